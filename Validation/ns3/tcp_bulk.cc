/*
 * tcp_bulk.cc -- ground truth for FedSim's TCP transfer-time model.
 *
 * One TCP bulk transfer of --bytes over a single point-to-point bottleneck,
 * simulated with ns-3 (Debian package libns3-dev 3.37). Prints ONE CSV line
 * on stdout (header with --header):
 *
 *   tcp,rate_mbps,rtt_ms,loss,bytes,run,seconds,handshake_seconds,
 *   retransmissions,random_drops,queue_drops,recoveries,rtos,queue_pkts
 *
 * Topology
 *   sender (node 0) ==== bottleneck P2P link ==== receiver (node 1)
 *   - DataRate = --rate Mbit/s, both directions.
 *   - Propagation delay = RTT/2 each way, so the base RTT without queueing
 *     is exactly --rtt (plus per-packet serialisation time: 1502 B data
 *     frame + 66 B ACK frame per hop).
 *   - No access link: the bottleneck queue is the sender NIC's transmit
 *     queue (DropTail, packets). ns-3's default fq_codel queue disc is
 *     removed, so the only buffer is this FIFO. Its size is
 *     max(--queue-bdp x BDP, 100) packets, BDP = rate*RTT/(1502 B * 8).
 *     Default --queue-bdp=1 (one bandwidth-delay product, the classic
 *     rule-of-thumb buffer). ns-3 TCP gets no signal for a drop in this
 *     local queue (no TSQ/local congestion notification), so it behaves
 *     exactly like a drop in a router queue.
 *   - Random loss: RateErrorModel, ErrorUnit=packet, ErrorRate=--loss,
 *     installed as ReceiveErrorModel on the receiver's device. It therefore
 *     drops only packets travelling sender->receiver (data, and also the SYN
 *     and the handshake's final ACK); the ACK direction is loss-free.
 *
 * TCP (Config::SetDefault, all sockets)
 *   - Congestion control: TcpCubic by default (Linux's default; ns-3.37
 *     Cubic with HyStart on, beta 0.7, fast convergence; NOTE ns-3.37's Cubic
 *     has no Reno-friendly region). --tcp=NewReno selects TcpNewReno,
 *     --tcp=LinuxReno TcpLinuxReno, --tcp=Bbr TcpBbr (ns-3.37's BBR v1:
 *     HighGain 2.89, BwWindowLength 10 rounds, RttWindowLength 10 s,
 *     ProbeRttDuration 200 ms, all attribute defaults; ack-aggregation
 *     cwnd extra on, as in ns-3.37's default m_extraAckedGain = 1).
 *   - Loss recovery: SACK on, PRR (TcpPrrRecovery), limited transmit on,
 *     timestamps on, window scaling on.
 *   - SegmentSize (MSS) 1448 B -> 1500 B IP packets with the 12 B timestamp
 *     option, 1502 B on the wire (2 B PPP header).
 *   - Initial cwnd 10 segments, initial ssthresh unlimited.
 *   - Delayed ACK: ACK every 2nd segment (ns-3 default), delayed-ACK timeout
 *     --delack-ms, default 40 ms (Linux's minimum/initial ATO, TCP_ATO_MIN).
 *     NOT ns-3's default 200 ms. ns-3.37 can live-lock after an RTO: on
 *     leaving CA_LOSS it counts only the bytes above m_recover as acked, so
 *     cwnd stays at 1 segment; that lone segment is ACKed only when the
 *     delayed-ACK timer fires, and if RTT + timeout > RTO the RTO fires
 *     first: spurious RTO, cwnd 1 again, and so on -- one segment per RTO.
 *     With 200 ms timeout and G 1 ms, lossy runs hit thousands of RTOs for a
 *     few hundred random drops (500 Mbit/s, 40 ms, p=1e-4, 200 MB: one run
 *     took 28903 s). 40 ms + G 200 ms keeps RTT + timeout < RTO.
 *   - RTO = max(SRTT + max(G, 4 RTTVAR), MinRto) (ns-3, RFC 6298) with clock
 *     granularity G = 200 ms and MinRto 200 ms, i.e. Linux's
 *     RTO = SRTT + max(4 RTTVAR, 200 ms). (ns-3 defaults: G 1 ms, MinRto
 *     1 s.) With G 1 ms the RTO is only ~SRTT + a few ms once RTTVAR has
 *     settled, so any delay spike fires a spurious RTO: at RTT >= 300 ms
 *     RTT + 40 ms delayed ACK > RTO (the live-lock above again), and e.g.
 *     5 Mbit/s, 10 ms, loss 0, 200 MB had 28 RTOs and 2504 retransmissions
 *     for 1056 queue drops (G 200 ms: 0 RTOs, 194 retransmissions = drops).
 *     SYN timeout (ConnTimeout) 1 s (RFC 6298 / Linux; ns-3 default 3 s).
 *   - Send and receive buffers 128 MiB (>= 2 x the largest BDP in the grid,
 *     500 Mbit/s x 700 ms = 43.75 MB), so the windows never limit.
 *   - No pacing, except for --tcp=Bbr: TcpSocketState::EnablePacing = true
 *     (BBR paces at pacing_gain x its bandwidth estimate; ns-3.37's TcpBbr
 *     would switch pacing on itself with a warning). MaxPacingRate stays at
 *     its 4 Gbit/s default (above every rate of the grid), PaceInitialWindow
 *     stays false (the initial window leaves as a burst, as in Linux).
 *
 * Application
 *   BulkSendApplication (SendSize 1448, MaxBytes = --bytes) on the sender,
 *   started at t = 0, so the SYN leaves at t = 0. PacketSink on the receiver.
 *
 * Measurements
 *   seconds            time at which the sink's cumulative Rx reaches --bytes
 *                      (start = SYN sent = t 0). The run stops right there.
 *                      -1 if the run gave up at --max-wall wall-clock
 *                      seconds (exit status 3; run.sh keeps the line and
 *                      leaves the run out of the point's figures).
 *   handshake_seconds  time the sender's socket enters ESTABLISHED (SYN-ACK
 *                      received): 1 RTT + tiny serialisation if not lost.
 *   retransmissions    data segments sent by the sender whose sequence range
 *                      lies below the highest sequence already sent.
 *   random_drops       packets dropped by the error model (receiver device).
 *   queue_drops        packets dropped by the full bottleneck queue.
 *   recoveries         entries into fast recovery (CA_RECOVERY).
 *   rtos               entries into CA_LOSS (retransmission timeouts).
 *   queue_pkts         bottleneck queue size used, in packets.
 *
 * Usage
 *   tcp_bulk --rate=20 --rtt=40 --loss=0.001 --bytes=20000000 --run=1 \
 *            [--tcp=Cubic|NewReno|LinuxReno|Bbr] [--queue-bdp=1] [--delack-ms=40]
 *            [--max-sim=200000] [--max-wall=0]
 *   TCP_BULK_DEBUG=1 in the environment prints, on stderr, every retransmission
 *   and the sender's cwnd (segments), pacing rate, congestion state and RTO
 *   as they change ("time name value").
 *            [--header]
 */

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

using namespace ns3;

namespace
{

uint64_t g_target = 0;
uint64_t g_rxBytes = 0;
double g_doneAt = -1.0;
double g_establishedAt = -1.0;
uint64_t g_retx = 0;
uint64_t g_randomDrops = 0;
uint64_t g_queueDrops = 0;
uint64_t g_recoveries = 0;
uint64_t g_rtos = 0;
SequenceNumber32 g_highestSent(0);
bool g_anySent = false;
double g_maxWall = 0; // --max-wall; 0 = no limit
bool g_wallLimited = false;
uint64_t g_txCount = 0;
std::chrono::steady_clock::time_point g_wall0;

void
SinkRx(Ptr<const Packet> p, const Address&)
{
    g_rxBytes += p->GetSize();
    if (g_doneAt < 0 && g_rxBytes >= g_target)
    {
        g_doneAt = Simulator::Now().GetSeconds();
        Simulator::Stop();
    }
}

void
StateChange(TcpSocket::TcpStates_t, TcpSocket::TcpStates_t now)
{
    if (now == TcpSocket::ESTABLISHED && g_establishedAt < 0)
    {
        g_establishedAt = Simulator::Now().GetSeconds();
    }
}

void
CongStateChange(TcpSocketState::TcpCongState_t, TcpSocketState::TcpCongState_t now)
{
    if (now == TcpSocketState::CA_RECOVERY)
    {
        ++g_recoveries;
    }
    else if (now == TcpSocketState::CA_LOSS)
    {
        ++g_rtos;
    }
}

void
SenderTx(Ptr<const Packet> p, const TcpHeader& h, Ptr<const TcpSocketBase>)
{
    uint32_t len = p->GetSize();
    if (len == 0)
    {
        return;
    }
    if (g_maxWall > 0 && ++g_txCount % 1024 == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - g_wall0).count() >
            g_maxWall)
    {
        g_wallLimited = true;
        Simulator::Stop();
    }
    SequenceNumber32 end = h.GetSequenceNumber() + len;
    if (g_anySent && h.GetSequenceNumber() < g_highestSent)
    {
        ++g_retx;
        if (getenv("TCP_BULK_DEBUG"))
        {
            std::cerr << Simulator::Now().GetSeconds() << " retx seq " << h.GetSequenceNumber()
                      << " len " << len << " highest " << g_highestSent << "\n";
        }
    }
    if (!g_anySent || end > g_highestSent)
    {
        g_highestSent = end;
        g_anySent = true;
    }
}

void
RandomDrop(Ptr<const Packet>)
{
    ++g_randomDrops;
}

void
QueueDrop(Ptr<const Packet>)
{
    ++g_queueDrops;
}

// TCP_BULK_DEBUG=1: the sender's cwnd, pacing rate, congestion state and RTO
// changes on stderr (time, name, value), besides the retransmissions.
void
DebugValue(std::string name, double value)
{
    std::cerr << Simulator::Now().GetSeconds() << " " << name << " " << value << "\n";
}

void
DebugCwnd(uint32_t, uint32_t now)
{
    DebugValue("cwnd_segments", now / 1448.0);
}

void
DebugPacing(DataRate, DataRate now)
{
    DebugValue("pacing_mbps", now.GetBitRate() / 1e6);
}

void
DebugCongState(TcpSocketState::TcpCongState_t, TcpSocketState::TcpCongState_t now)
{
    DebugValue("cong_state", now);
}

void
DebugRto(Time, Time now)
{
    DebugValue("rto_s", now.GetSeconds());
}

void
HookSenderSocket(Ptr<BulkSendApplication> app)
{
    Ptr<Socket> s = app->GetSocket();
    NS_ABORT_MSG_IF(!s, "BulkSend socket not created yet");
    bool ok = s->TraceConnectWithoutContext("State", MakeCallback(&StateChange));
    ok = ok && s->TraceConnectWithoutContext("CongState", MakeCallback(&CongStateChange));
    ok = ok && s->TraceConnectWithoutContext("Tx", MakeCallback(&SenderTx));
    if (getenv("TCP_BULK_DEBUG"))
    {
        ok = ok && s->TraceConnectWithoutContext("CongestionWindow", MakeCallback(&DebugCwnd));
        ok = ok && s->TraceConnectWithoutContext("PacingRate", MakeCallback(&DebugPacing));
        ok = ok && s->TraceConnectWithoutContext("CongState", MakeCallback(&DebugCongState));
        ok = ok && s->TraceConnectWithoutContext("RTO", MakeCallback(&DebugRto));
    }
    NS_ABORT_MSG_IF(!ok, "could not connect the sender socket traces");
}

} // namespace

int
main(int argc, char* argv[])
{
    double rateMbps = 20;
    double rttMs = 40;
    double loss = 0;
    uint64_t bytes = 2000000;
    uint32_t run = 1;
    uint32_t seed = 1;
    std::string tcp = "Cubic";
    double queueBdp = 1.0;
    double delAckMs = 40;
    uint32_t minQueuePkts = 100;
    double maxSimSeconds = 200000;
    bool header = false;

    CommandLine cmd(__FILE__);
    cmd.AddValue("rate", "bottleneck rate, Mbit/s", rateMbps);
    cmd.AddValue("rtt", "base round-trip time, ms", rttMs);
    cmd.AddValue("loss", "random per-packet loss probability (data direction)", loss);
    cmd.AddValue("bytes", "application bytes to transfer", bytes);
    cmd.AddValue("run", "RNG run number", run);
    cmd.AddValue("seed", "RNG seed (kept at 1 by run.sh; vary --run instead)", seed);
    cmd.AddValue("tcp", "Cubic | NewReno | LinuxReno | Bbr", tcp);
    cmd.AddValue("queue-bdp", "bottleneck queue size in BDPs", queueBdp);
    cmd.AddValue("delack-ms", "receiver delayed-ACK timeout, ms", delAckMs);
    cmd.AddValue("min-queue", "minimum bottleneck queue size, packets", minQueuePkts);
    cmd.AddValue("max-sim", "give up after this many simulated seconds", maxSimSeconds);
    cmd.AddValue("max-wall",
                 "give up after this many wall-clock seconds (0: never); prints seconds -1, exit 3",
                 g_maxWall);
    cmd.AddValue("header", "print the CSV header line first", header);
    cmd.Parse(argc, argv);

    NS_ABORT_MSG_IF(rateMbps <= 0 || rttMs < 0 || loss < 0 || loss >= 1 || bytes == 0 ||
                        delAckMs < 0,
                    "bad arguments");

    RngSeedManager::SetSeed(seed);
    RngSeedManager::SetRun(run);

    const uint32_t mss = 1448;
    const uint32_t wireBytes = 1502; // 1448 + 32 TCP(+TS) + 20 IP + 2 PPP
    const uint32_t bufBytes = 128u << 20;

    TypeId cc;
    if (tcp == "Cubic")
    {
        cc = TcpCubic::GetTypeId();
    }
    else if (tcp == "NewReno")
    {
        cc = TcpNewReno::GetTypeId();
    }
    else if (tcp == "LinuxReno")
    {
        cc = TcpLinuxReno::GetTypeId();
    }
    else if (tcp == "Bbr")
    {
        cc = TcpBbr::GetTypeId();
        // BBR is rate-based: it needs pacing (and only BBR gets it).
        Config::SetDefault("ns3::TcpSocketState::EnablePacing", BooleanValue(true));
    }
    else
    {
        NS_ABORT_MSG("unknown --tcp " << tcp);
    }
    Config::SetDefault("ns3::TcpL4Protocol::SocketType", TypeIdValue(cc));
    Config::SetDefault("ns3::TcpL4Protocol::RecoveryType",
                       TypeIdValue(TcpPrrRecovery::GetTypeId()));
    Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(mss));
    Config::SetDefault("ns3::TcpSocket::InitialCwnd", UintegerValue(10));
    Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(bufBytes));
    Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(bufBytes));
    Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(2));
    Config::SetDefault("ns3::TcpSocket::DelAckTimeout",
                       TimeValue(MicroSeconds(delAckMs * 1000.0)));
    Config::SetDefault("ns3::TcpSocket::ConnTimeout", TimeValue(Seconds(1)));
    Config::SetDefault("ns3::TcpSocketBase::Sack", BooleanValue(true));
    Config::SetDefault("ns3::TcpSocketBase::Timestamp", BooleanValue(true));
    Config::SetDefault("ns3::TcpSocketBase::WindowScaling", BooleanValue(true));
    Config::SetDefault("ns3::TcpSocketBase::LimitedTransmit", BooleanValue(true));
    Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(MilliSeconds(200)));
    Config::SetDefault("ns3::TcpSocketBase::ClockGranularity", TimeValue(MilliSeconds(200)));

    NodeContainer nodes;
    nodes.Create(2);

    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(rateMbps * 1e6)));
    p2p.SetDeviceAttribute("Mtu", UintegerValue(1500));
    p2p.SetChannelAttribute("Delay", TimeValue(MicroSeconds(rttMs * 1000.0 / 2.0)));
    double bdpPkts = rateMbps * 1e6 * rttMs / 1000.0 / (8.0 * wireBytes);
    uint32_t queuePkts =
        std::max<uint32_t>(minQueuePkts, static_cast<uint32_t>(std::ceil(queueBdp * bdpPkts)));
    p2p.SetQueue("ns3::DropTailQueue",
                 "MaxSize",
                 QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS, queuePkts)));
    NetDeviceContainer devs = p2p.Install(nodes);

    InternetStackHelper stack;
    stack.Install(nodes);
    Ipv4AddressHelper addr;
    addr.SetBase("10.1.1.0", "255.255.255.0");
    Ipv4InterfaceContainer ifs = addr.Assign(devs);
    // Remove the default fq_codel root queue disc: the device FIFO is the
    // only (and bottleneck) buffer.
    TrafficControlHelper tch;
    tch.Uninstall(devs);

    Ptr<RateErrorModel> em = CreateObject<RateErrorModel>();
    em->SetUnit(RateErrorModel::ERROR_UNIT_PACKET);
    em->SetRate(loss);
    em->AssignStreams(7);
    devs.Get(1)->SetAttribute("ReceiveErrorModel", PointerValue(em));
    bool ok = devs.Get(1)->TraceConnectWithoutContext("PhyRxDrop", MakeCallback(&RandomDrop));
    Ptr<PointToPointNetDevice> sndDev = DynamicCast<PointToPointNetDevice>(devs.Get(0));
    ok = ok && sndDev->GetQueue()->TraceConnectWithoutContext("Drop", MakeCallback(&QueueDrop));
    // With no queue disc, the traffic-control layer drops a packet when the
    // device queue is full (stopped); the queue itself rarely sees a drop.
    ok = ok && nodes.Get(0)->GetObject<TrafficControlLayer>()->TraceConnectWithoutContext(
                   "TcDrop",
                   MakeCallback(&QueueDrop));
    NS_ABORT_MSG_IF(!ok, "could not connect the drop traces");

    uint16_t port = 5000;
    PacketSinkHelper sinkHelper("ns3::TcpSocketFactory",
                                InetSocketAddress(Ipv4Address::GetAny(), port));
    ApplicationContainer sinkApps = sinkHelper.Install(nodes.Get(1));
    sinkApps.Start(Seconds(0));
    sinkApps.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&SinkRx));

    BulkSendHelper bulk("ns3::TcpSocketFactory", InetSocketAddress(ifs.GetAddress(1), port));
    bulk.SetAttribute("MaxBytes", UintegerValue(bytes));
    bulk.SetAttribute("SendSize", UintegerValue(mss));
    ApplicationContainer srcApps = bulk.Install(nodes.Get(0));
    srcApps.Start(Seconds(0));
    Ptr<BulkSendApplication> app = DynamicCast<BulkSendApplication>(srcApps.Get(0));
    // The socket is created when the app starts at t = 0; the SYN-ACK cannot
    // arrive before 1 RTT, so hooking the traces 1 ns later misses nothing
    // but the SYN (which carries no data).
    Simulator::Schedule(NanoSeconds(1), &HookSenderSocket, app);

    g_target = bytes;
    auto wall0 = std::chrono::steady_clock::now();
    g_wall0 = wall0;
    Simulator::Stop(Seconds(maxSimSeconds));
    Simulator::Run();
    double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    Simulator::Destroy();

    if (header)
    {
        std::cout << "tcp,rate_mbps,rtt_ms,loss,bytes,run,seconds,handshake_seconds,"
                     "retransmissions,random_drops,queue_drops,recoveries,rtos,queue_pkts\n";
    }
    char line[512];
    std::snprintf(line,
                  sizeof line,
                  "%s,%g,%g,%g,%llu,%u,%.6f,%.6f,%llu,%llu,%llu,%llu,%llu,%u",
                  tcp.c_str(),
                  rateMbps,
                  rttMs,
                  loss,
                  static_cast<unsigned long long>(bytes),
                  run,
                  g_doneAt,
                  g_establishedAt,
                  static_cast<unsigned long long>(g_retx),
                  static_cast<unsigned long long>(g_randomDrops),
                  static_cast<unsigned long long>(g_queueDrops),
                  static_cast<unsigned long long>(g_recoveries),
                  static_cast<unsigned long long>(g_rtos),
                  queuePkts);
    std::cout << line << std::endl;
    std::cerr << "wall_seconds=" << wall << "\n";
    if (g_doneAt < 0 && g_wallLimited)
    {
        std::cerr << "gave up after " << g_maxWall << " s of wall-clock time\n";
        return 3;
    }
    if (g_doneAt < 0)
    {
        std::cerr << "transfer did not complete within " << maxSimSeconds << " simulated s\n";
        return 2;
    }
    return 0;
}
