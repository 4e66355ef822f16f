import Foundation
import XCTest
@testable import Numerics

final class ProvenanceTests: XCTestCase {
    func testProvenanceFieldsAreFilledOnThisMachine() throws {
        let p = Provenance.current(version: "9.9.9")
        XCTAssertEqual(p.fedsimVersion, "9.9.9")
        XCTAssertFalse(p.blasCoreName.isEmpty)
        XCTAssertNotEqual(p.blasCoreName, "unknown")
        XCTAssertTrue(p.blasConfig.hasPrefix("OpenBLAS"), p.blasConfig)
        XCTAssertNotEqual(p.cpuModel, "unknown")
        XCTAssertTrue(p.cpuIdentification.contains("family"), p.cpuIdentification)
        XCTAssertEqual(Set(p.cpuFeatures.keys), ["avx", "avx2", "avx512f", "fma"])
        XCTAssertTrue(p.operatingSystem.hasPrefix("Linux "), p.operatingSystem)
        XCTAssertGreaterThan(p.cores, 0)
        XCTAssertGreaterThan(p.blasThreads, 0)
        XCTAssertTrue(p.swiftCompiler.hasPrefix("Swift 6"), p.swiftCompiler)
        XCTAssertTrue(BLASKernel.Choice.allCases.map(\.rawValue).contains(p.blasKernelChoice))
        // The test bundle is built inside this repository, so the commit is found.
        XCTAssertTrue(GitCommit.isCommit(p.gitCommit), p.gitCommit)
        // Canonical JSON: sorted keys, decodes back to the same value.
        let data = try p.canonicalJSON()
        XCTAssertEqual(try JSONDecoder().decode(Provenance.self, from: data), p)
        let text = String(decoding: data, as: UTF8.self)
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keys, keys.sorted())
        XCTAssertTrue(keys.contains("blasCoreName") && keys.contains("gitCommit"))
        XCTAssertTrue(text.hasSuffix("}\n"))
    }

    func testCoreNameMatchesTheRequestWhenForced() {
        guard let requested = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !requested.isEmpty,
              CPUInfo.current.supportsPinnedKernel, requested == "Haswell" else { return }
        XCTAssertEqual(BLASKernel.coreName, "Haswell")
    }

    func testSelfCheckPassesWithBLAS() {
        XCTAssertEqual(BLASKernel.selfCheck(), [])
    }

    func testSelfCheckFailsOnWrongProducts() {
        // One entry off by a little.
        let offByOne: BLASKernel.Product = { a, ta, b, tb in
            var c = BLASKernel.blasProduct(a, ta, b, tb)
            c.storage[c.storage.count / 2] += 0.25
            return c
        }
        let failures = BLASKernel.selfCheck(product: offByOne)
        XCTAssertEqual(failures.count, 4, "\(failures)")
        XCTAssertTrue(failures[0].contains("sgemm NN 33×29×47"), failures[0])
        // A NaN entry, and a result of the wrong shape.
        XCTAssertEqual(BLASKernel.selfCheck(product: { a, ta, b, tb in
            var c = BLASKernel.blasProduct(a, ta, b, tb); c.storage[0] = .nan; return c
        }).count, 4)
        XCTAssertEqual(BLASKernel.selfCheck(product: { _, _, _, _ in Matrix.zeros(rows: 2, cols: 2) }).count, 4)
    }

    func testKernelPlanAndSelection() {
        let avx2 = CPUInfo.parse("vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\nstepping\t: 2\nmodel name\t: Intel(R) Xeon(R) Platinum 8592+\nflags\t\t: fpu sse2 avx fma avx2 avx512f\n\nprocessor\t: 1\nflags\t: none\n")
        XCTAssertTrue(avx2.supportsPinnedKernel)
        XCTAssertEqual(avx2.identification, "GenuineIntel family 6 model 207 stepping 2")
        XCTAssertEqual(avx2.modelName, "Intel(R) Xeon(R) Platinum 8592+")
        let old = CPUInfo.parse("model name\t: Old\nflags\t\t: fpu sse2 avx\n")
        XCTAssertFalse(old.supportsPinnedKernel)
        XCTAssertEqual(CPUInfo.parse("").modelName, "unknown")

        XCTAssertEqual(BLASKernel.plan(environment: [:], cpu: avx2), .reexecute)
        XCTAssertEqual(BLASKernel.plan(environment: ["OPENBLAS_CORETYPE": ""], cpu: avx2), .reexecute)
        XCTAssertEqual(BLASKernel.plan(environment: [:], cpu: old), .keep)
        XCTAssertEqual(BLASKernel.plan(environment: ["OPENBLAS_CORETYPE": "Prescott"], cpu: avx2), .keep)
        // The marker stops a loop, also after a failed exec.
        XCTAssertEqual(BLASKernel.plan(environment: ["FEDSIM_BLAS_CORETYPE": "Haswell"], cpu: avx2), .keep)
        XCTAssertEqual(BLASKernel.plan(environment: ["FEDSIM_BLAS_CORETYPE": "failed: x"], cpu: avx2), .keep)

        let pinned = BLASKernel.selection(environment: ["OPENBLAS_CORETYPE": "Haswell", "FEDSIM_BLAS_CORETYPE": "Haswell"], cpu: avx2, coreName: "Haswell")
        XCTAssertEqual(pinned.choice, .chosenByFedsim)
        XCTAssertEqual(pinned.note, "")
        let forced = BLASKernel.selection(environment: ["OPENBLAS_CORETYPE": "SkylakeX", "FEDSIM_BLAS_CORETYPE": "Haswell"], cpu: avx2, coreName: "SkylakeX")
        XCTAssertEqual(forced.choice, .forcedByEnvironment)
        XCTAssertEqual(forced.requested, "SkylakeX")
        let failed = BLASKernel.selection(environment: ["FEDSIM_BLAS_CORETYPE": "failed: Permission denied"], cpu: avx2, coreName: "Prescott")
        XCTAssertEqual(failed.choice, .openBLASDefault)
        XCTAssertTrue(failed.note.contains("Permission denied") && failed.note.contains("Prescott"), failed.note)
        let ignored = BLASKernel.selection(environment: ["OPENBLAS_CORETYPE": "Haswell"], cpu: avx2, coreName: "Prescott")
        XCTAssertTrue(ignored.note.contains("runs Prescott"), ignored.note)
    }

    func testGitCommitFromARepositoryLayout() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-git-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let git = root.appendingPathComponent(".git")
        let exe = root.appendingPathComponent(".build/release/fedsim")
        try FileManager.default.createDirectory(at: git.appendingPathComponent("refs/heads"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: exe.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("binary".utf8).write(to: exe)
        let sha = String(repeating: "ab12", count: 10)
        let other = String(repeating: "cd34", count: 10)

        try Data("ref: refs/heads/main\n".utf8).write(to: git.appendingPathComponent("HEAD"))
        try Data("\(sha)\n".utf8).write(to: git.appendingPathComponent("refs/heads/main"))
        XCTAssertEqual(GitCommit.find(fromExecutable: exe.path).commit, sha)

        // Packed ref only.
        try FileManager.default.removeItem(at: git.appendingPathComponent("refs/heads/main"))
        try Data("# pack-refs with: peeled fully-peeled sorted\n\(other) refs/heads/main\n".utf8).write(to: git.appendingPathComponent("packed-refs"))
        XCTAssertEqual(GitCommit.find(fromExecutable: exe.path).commit, other)

        // Detached HEAD.
        try Data("\(sha)\n".utf8).write(to: git.appendingPathComponent("HEAD"))
        XCTAssertEqual(GitCommit.find(fromExecutable: exe.path).commit, sha)

        // A branch that does not resolve, and garbage.
        try Data("ref: refs/heads/nowhere\n".utf8).write(to: git.appendingPathComponent("HEAD"))
        XCTAssertEqual(GitCommit.find(fromExecutable: exe.path).commit, "unknown")
        try Data("not a commit\n".utf8).write(to: git.appendingPathComponent("HEAD"))
        XCTAssertEqual(GitCommit.find(fromExecutable: exe.path).commit, "unknown")

        // A worktree: .git is a file naming the git directory.
        let worktree = root.appendingPathComponent("wt")
        let wtGit = git.appendingPathComponent("worktrees/wt")
        try FileManager.default.createDirectory(at: wtGit, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: worktree.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data("gitdir: \(wtGit.path)\n".utf8).write(to: worktree.appendingPathComponent(".git"))
        try Data("ref: refs/heads/main\n".utf8).write(to: wtGit.appendingPathComponent("HEAD"))
        try Data("../..\n".utf8).write(to: wtGit.appendingPathComponent("commondir"))
        XCTAssertEqual(GitCommit.find(fromExecutable: worktree.appendingPathComponent("bin/fedsim").path).commit, other)

        // No repository above.
        XCTAssertEqual(GitCommit.find(fromExecutable: "/fedsim").commit, "unknown")
    }
}
