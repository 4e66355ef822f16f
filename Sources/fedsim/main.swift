import FedSimCLI
import Foundation
import Numerics

// Before anything else: pin OpenBLAS's kernel family (a re-execution with OPENBLAS_CORETYPE=Haswell
// on every AVX2 + FMA CPU, so every such machine gives the same bytes), then check that its
// products are right.
if let failure = BLASKernel.startUp(program: "fedsim") {
    FileHandle.standardError.write(Data((failure + "\n").utf8))
    exit(1)
}
Parallelism.applyEnvironment()

exit(FedSimMain.run(Array(CommandLine.arguments.dropFirst()), console: .standard()))
