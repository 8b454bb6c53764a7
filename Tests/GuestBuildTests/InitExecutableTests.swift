import Foundation
import RunxlBase
import Testing

@testable import GuestBuild

/// runxl-init must be static: the guest's initramfs holds no dynamic loader (issue 19).
@Suite struct InitExecutableTests {
    /// A 64-bit ELF header with one program header of `programType`, as the linker lays it out.
    private func elf(type: UInt16 = 2, programType: UInt32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64 + 56)
        bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        bytes[4] = 2
        bytes[5] = 1
        func put(_ value: Int, at offset: Int, size: Int) {
            for index in 0..<size { bytes[offset + index] = UInt8((value >> (8 * index)) & 0xFF) }
        }
        put(Int(type), at: 0x10, size: 2)
        put(62, at: 0x12, size: 2)
        put(64, at: 0x20, size: 8)
        put(56, at: 0x36, size: 2)
        put(1, at: 0x38, size: 2)
        put(Int(programType), at: 64, size: 4)
        return bytes
    }

    @Test func aStaticExecutableIsAccepted() {
        #expect(InitExecutable.problem(in: elf(programType: 1)) == nil)
        #expect(InitExecutable.problem(in: elf(type: 3, programType: 1)) == nil, "a static-pie is ET_DYN without PT_INTERP")
    }

    @Test func anExecutableWithAnInterpreterIsRefused() {
        #expect(InitExecutable.problem(in: elf(programType: 3)) == "is dynamically linked")
    }

    @Test func somethingElseIsRefused() {
        #expect(InitExecutable.problem(in: Array("#!/bin/sh\necho hi\n".utf8)) == "is not an ELF executable")
        #expect(InitExecutable.problem(in: elf(type: 1, programType: 1)) == "is not an ELF executable", "a relocatable object")
        var truncated = elf(programType: 1)
        truncated.removeLast(10)
        #expect(InitExecutable.problem(in: truncated) == "has program headers runxl cannot read")
    }

    /// The host's own /bin/ls is dynamically linked: the error names the file and the fix.
    @Test func theErrorNamesTheFix() throws {
        let error = try #require(throws: RunxlError.self) { try InitExecutable.check("/bin/ls") }
        #expect(error.code == .initBinaryInvalid)
        #expect(error.message.contains("/bin/ls is dynamically linked"))
        #expect(error.message.contains("Scripts/build-init"))
    }
}
