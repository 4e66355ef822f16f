import FedSimCLI
#if canImport(Glibc)
import Glibc
#endif

exit(FedSimMain.run(Array(CommandLine.arguments.dropFirst()), console: .standard()))
