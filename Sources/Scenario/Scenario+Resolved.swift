import Codec
import Foundation
import Network
import Numerics

extension Scenario {
    /// The scenario in its JSON form with every default filled in: what `fedsim validate` prints,
    /// and what `summary.json` records. Parsing it again gives the same scenario.
    public var resolved: JSONValue {
        let c = config
        let (seed, population, network, server, availability, selection, workload, arms, target, stop) =
            (c.seed, c.population, c.network, c.server, c.availability, c.selection, c.workload, c.arms, c.target, c.stop)
        func q(_ v: Double, _ d: Quantity.Dimension) -> JSONValue { .string(Quantity.format(v, as: d)) }
        func dist(_ d: Distribution) -> JSONValue { d.json }
        func link(_ l: LinkDistributions) -> [String: JSONValue] {
            ["down": dist(l.downlink), "up": dist(l.uplink), "rtt": dist(l.rtt), "loss": dist(l.loss)]
        }
        var net: [String: JSONValue] = ["model": .string(network.model.rawValue), "keep_connections": .bool(network.keepConnections)]
        switch networkForm {
        case let .named(n): net["profile"] = .string(n)
        case let .mix(items): net["mix"] = .array(items.map { .object(["weight": .number($0.weight), "profile": .string($0.profile)]) })
        case .inline: if case let .link(l) = network.profile.body { net.merge(link(l)) { $1 } }
        }
        if !userProfiles.isEmpty {
            var profiles: [String: JSONValue] = [:]
            for p in userProfiles {
                guard case let .link(l) = p.body else { continue }
                var o = link(l)
                o["summary"] = .string(p.summary)
                o["sources"] = .array(p.sources.map { .string($0) })
                profiles[p.name] = .object(o)
            }
            net["profiles"] = .object(profiles)
        }
        var availabilityJSON: [String: JSONValue] = ["dropout_per_round": .number(availability.dropoutPerRound)]
        if case let .sessions(s) = availability {
            var sessions: [String: JSONValue] = ["online": dist(s.online), "offline": dist(s.offline)]
            if let d = s.diurnal {
                sessions["diurnal"] = .object(["amplitude": .number(d.amplitude), "period": q(d.period, .duration), "peak": q(d.peak, .duration)])
            }
            availabilityJSON["sessions"] = .object(sessions)
        }
        var selectionJSON: [String: JSONValue] = ["per_round": .number(Double(selection.perRound)), "over_selection": .number(selection.overSelection),
                                                  "min_completions": .number(Double(selection.minCompletions))]
        if let d = selection.deadline { selectionJSON["deadline"] = q(d, .duration) }
        var workloadJSON: [String: JSONValue] = [
            "compute": .object(["tokens_per_sample": .number(Double(workload.tokensPerSample)), "epochs": .number(Double(workload.epochs))]),
        ]
        switch workload.payloadModel {
        case let .catalogue(p):
            workloadJSON["payload"] = .object(["model": .string(p.model.name), "rank": .number(Double(p.rank)),
                                               "targets": .array(p.targets.map { .string($0) }), "values": .string(p.valueType.rawValue)])
        case .measured:
            workloadJSON["payload"] = .string("measured")
        }
        /// A Float as the shortest decimal that reads back as it (0.001, not 0.0010000000474974513).
        func f(_ x: Float) -> JSONValue { .number(Double("\(x)") ?? Double(x)) }
        if let t = workload.training {
            var train: [String: JSONValue] = [:]
            switch t.data {
            case let .fashionMNIST(directory):
                train["dataset"] = .string("fashion-mnist")
                train["data"] = .string(directory)
            case let .synthetic(classes, dimension, n, test):
                train["dataset"] = .object(["synthetic": .object(["classes": .number(Double(classes)), "dimension": .number(Double(dimension)),
                                                                  "train": .number(Double(n)), "test": .number(Double(test))])])
            }
            switch t.partition {
            case .iid: train["partition"] = .string("iid")
            case let .dirichlet(beta): train["partition"] = .object(["dirichlet": .number(beta)])
            case let .shards(n): train["partition"] = .object(["shards": .number(Double(n))])
            }
            train["hidden"] = .array(t.hidden.map { .number(Double($0)) })
            var pre: [String: JSONValue] = ["epochs": .number(Double(t.pretrainEpochs)), "learning_rate": f(t.pretrainLearningRate),
                                            "seed": .number(Double(t.pretrainSeed))]
            if let c = t.pretrainClasses { pre["classes"] = .array(c.map { .number(Double($0)) }) }
            train["pretrain"] = .object(pre)
            train["lora"] = .object(["rank": .number(Double(t.rank)), "alpha": f(t.alpha)])
            var local: [String: JSONValue] = ["epochs": .number(Double(t.local.epochs)), "batch": .number(Double(t.local.batchSize))]
            switch t.local.optimizer {
            case let .adam(lr): local["optimizer"] = .string("adam"); local["learning_rate"] = f(lr)
            case let .sgd(lr, m): local["optimizer"] = .string("sgd"); local["learning_rate"] = f(lr); local["momentum"] = f(m)
            }
            train["local"] = .object(local)
            train["evaluate_every"] = .number(Double(t.evaluateEvery))
            if let n = t.testSamples { train["test_samples"] = .number(Double(n)) }
            workloadJSON["train"] = .object(train)
        }
        let armsJSON: [JSONValue] = arms.map { arm in
            let o = arm.options
            var a: [String: JSONValue] = ["codec": .string(arm.codec), "name": .string(arm.name), "sparsity": .number(o.sparsity),
                                          "adaptive": .bool(o.adaptive), "iterations": .number(Double(o.iterations)),
                                          "values": .string(o.valueType.rawValue), "residual": .bool(o.residual),
                                          "history_rounds": .number(Double(o.historyRounds))]
            a["download_sparsity"] = .number(o.downloadSparsity ?? o.sparsity)
            return .object(a)
        }
        var stopJSON: [String: JSONValue] = [:]
        if let r = stop.rounds { stopJSON["rounds"] = .number(Double(r)) }
        if let s = stop.seconds { stopJSON["time"] = q(s, .duration) }
        var root: [String: JSONValue] = [
            "name": .string(name), "seed": .number(Double(seed)),
            "population": .object(["clients": .number(Double(population.clients)), "samples": dist(population.samples),
                                   "device_speed": dist(population.deviceSpeed)]),
            "network": .object(net),
            "server": .object(["down": q(server.downlink, .bitRate), "up": q(server.uplink, .bitRate), "aggregation": q(server.aggregationSeconds, .duration)]),
            "availability": .object(availabilityJSON),
            "selection": .object(selectionJSON),
            "workload": .object(workloadJSON),
            "arms": .array(armsJSON),
            "stop": .object(stopJSON),
        ]
        switch target {
        case let .accuracy(a)?: root["target"] = .object(["accuracy": .number(a)])
        case let .fractionOfBest(f)?: root["target"] = .object(["fraction_of_best": .number(f)])
        case nil: break
        }
        return .object(root)
    }
}
