// swift-tools-version:6.0
// FedSim: a discrete-event network simulator for federated fine-tuning with LoRA.
import PackageDescription

let package = Package(
    name: "FedSim",
    products: [
        .executable(name: "fedsim", targets: ["fedsim"]),
        .executable(name: "fedsim-bench", targets: ["fedsim-bench"]),
        .executable(name: "fedsim-validate", targets: ["fedsim-validate"]),
        .executable(name: "fedsim-train", targets: ["fedsim-train"]),
        .executable(name: "fedsim-fuzz", targets: ["fedsim-fuzz"]),
        .library(name: "Numerics", targets: ["Numerics"]),
        .library(name: "EventKernel", targets: ["EventKernel"]),
        .library(name: "LoRA", targets: ["LoRA"]),
        .library(name: "Codec", targets: ["Codec"]),
    ],
    targets: [
        // C libraries from Debian (libgsl-dev, libopenblas-dev, liblapacke-dev). Only `Numerics` imports it.
        .systemLibrary(name: "CNumerics", path: "Sources/CNumerics"),
        .target(name: "Numerics", dependencies: ["CNumerics"]),
        // Debug builds check the radix heap's invariants after every mutation (as swift-collections' Heap can).
        .target(name: "EventKernel", swiftSettings: [.define("FEDSIM_INTERNAL_CHECKS", .when(configuration: .debug))]),
        // zlib from Debian (zlib1g-dev): CRC-32 for the wire format, gzip for datasets.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The one LoRA adapter type, shared by the learner and the codecs.
        .target(name: "LoRA", dependencies: ["Numerics"]),
        .target(name: "Codec", dependencies: ["Numerics", "LoRA", "CZlib"]),
        .target(name: "Network", dependencies: ["Numerics", "EventKernel"]),
        .target(name: "Learning", dependencies: ["Numerics", "LoRA", "CZlib"]),
        // Federation runs on FederationConfig (plain values); Scenario maps files onto it.
        .target(name: "Federation", dependencies: ["Numerics", "EventKernel", "Network", "LoRA", "Codec", "Learning"]),
        .target(name: "Scenario", dependencies: ["Numerics", "EventKernel", "Network", "LoRA", "Codec", "Learning", "Federation"]),
        .target(name: "Reporting", dependencies: ["Federation", "Scenario", "Numerics"]),
        // Orchestration: runs over seeds with checkpoints, sweeps; progress through an observer (never prints).
        .target(name: "Experiment", dependencies: ["Numerics", "EventKernel", "Scenario", "Federation", "Reporting", "Learning"]),
        .target(name: "FedSimCLI", dependencies: ["Numerics", "EventKernel", "LoRA", "Codec", "Network", "Scenario", "Federation", "Reporting", "Learning", "Experiment"]),
        .executableTarget(name: "fedsim", dependencies: ["FedSimCLI", "Numerics"]),
        .executableTarget(name: "fedsim-bench", dependencies: ["Numerics", "EventKernel", "LoRA", "Codec", "Network", "Scenario", "Federation", "Learning"]),
        // The reference external trainer (docs/EXTERNAL-TRAINER.md): the built-in workloads behind the protocol.
        .executableTarget(name: "fedsim-train", dependencies: ["Numerics", "LoRA", "Codec", "Learning", "Federation", "Scenario"]),
        .executableTarget(name: "fedsim-validate", dependencies: ["Numerics", "EventKernel", "Codec", "Network", "Scenario", "Federation"]),
        // Seeded, time-bounded fuzzing of every input reader (make fuzz; a short run in make test).
        .executableTarget(name: "fedsim-fuzz", dependencies: ["Numerics", "LoRA", "Codec", "Network", "Scenario", "Learning", "FedSimCLI", "Reporting", "CZlib"]),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics"]),
        .testTarget(name: "EventKernelTests", dependencies: ["EventKernel", "Numerics"]),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "Numerics"]),
        .testTarget(name: "CodecTests", dependencies: ["Codec", "LoRA", "Numerics"]),
        .testTarget(name: "NetworkTests", dependencies: ["Network", "EventKernel", "Numerics"]),
        .testTarget(name: "FedSimCLITests", dependencies: ["FedSimCLI", "LoRA", "Codec", "Numerics", "Reporting"]),
        .testTarget(name: "ExperimentTests", dependencies: ["Experiment", "Scenario", "Reporting", "Numerics"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "LoRA", "Numerics", "CZlib"]),
        .testTarget(name: "ScenarioTests", dependencies: ["Scenario", "Network", "Numerics", "FedSimCLI"]),
        .testTarget(name: "FederationTests", dependencies: ["Federation", "LoRA", "Codec", "Learning", "Scenario", "Network", "EventKernel", "Numerics", "Reporting"]),
    ],
    swiftLanguageModes: [.v6]
)
