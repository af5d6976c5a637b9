import ArgumentParser
import Foundation
import MiroFormats

/// `miro convert FILE.pt [--out FILE.safetensors] [--key state_dict]`: a PyTorch zip checkpoint → safetensors,
/// read by MiroFormats' restricted unpickler (nothing in the file is executed; foreign globals are refused).
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a PyTorch .pt/.pth checkpoint (torch.save zip) to .safetensors without running its pickle.",
        discussion: """
            Only what a state dict needs is accepted: tensors (any strides; views are written contiguous, tensors \
            sharing a storage are written separately), parameters, dicts and OrderedDicts. A pickle naming any \
            other global (a model class, os.system, …) is refused with the global's name and nothing is written. \
            Nested dictionaries are flattened with dotted names; --key picks one top-level entry (e.g. \
            state_dict) as the root. Non-tensor values (epoch counters, strings) are skipped and listed.
            """)

    @Argument(help: "The .pt or .pth file (torch.save's zip format, PyTorch ≥ 1.6).") var file: String
    @Option(help: "The .safetensors file to write (default: FILE with the extension .safetensors).") var out: String?
    @Option(help: "A top-level key whose dictionary holds the tensors (e.g. state_dict, model).") var key: String?
    @Flag(help: "Replace an existing output file.") var overwrite = false

    var outputPath: String {
        out ?? URL(fileURLWithPath: file).deletingPathExtension().appendingPathExtension("safetensors").path
    }

    func validate() throws {
        try PathCheck.readableFile(file, "FILE")
        try PathCheck.writable(outputPath, "--out", as: .file)
        if !overwrite, FileManager.default.fileExists(atPath: outputPath) {
            throw ValidationError("--out \(outputPath) exists; pass --overwrite to replace it")
        }
        if URL(fileURLWithPath: outputPath).standardizedFileURL.resolvingSymlinksInPath()
            == URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath() {
            throw ValidationError("--out must differ from FILE")
        }
    }

    func run() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: URL(fileURLWithPath: file), key: key)
        let destination = URL(fileURLWithPath: outputPath)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensorsWriter.write(checkpoint.safeTensors, to: destination)
        var counts: [String: Int] = [:]
        for tensor in checkpoint.tensors { counts[tensor.dtype.rawValue, default: 0] += 1 }
        let dtypes = counts.keys.sorted().map { "\($0) ×\(counts[$0] ?? 0)" }.joined(separator: ", ")
        let bytes = checkpoint.tensors.reduce(0) { $0 + $1.bytes.count }
        print("wrote \(checkpoint.tensors.count) tensors (\(dtypes); \(bytes) bytes) to \(destination.path)")
        for note in checkpoint.notes { print("note: \(note)") }
    }
}
