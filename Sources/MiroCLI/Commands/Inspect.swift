import ArgumentParser
import Foundation
import MiroFormats

/// `miro inspect FILE [--json]`: per tensor its dtype, shape, element sum and absolute sum (float64),
/// plus the file's metadata.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise the tensors of a .safetensors, sharded .safetensors.index.json or .npy file.")

    @Argument(help: "The file to inspect.")
    var file: String

    @Flag(help: "Print one JSON object {\"tensors\": [...], \"metadata\": {...}} instead of a table.")
    var json = false

    func validate() throws {
        try PathCheck.readableFile(file, "FILE")  // also refuses directories and devices such as /dev/null
    }

    func run() throws {
        // A malformed file throws a FormatError naming the file and the problem; the argument parser
        // prints it as one line and exits non-zero.
        let summary = try TensorFileSummary.summarize(url: URL(fileURLWithPath: file))
        if json {
            print(TensorFileSummary.jsonString(tensors: summary.tensors, metadata: summary.metadata))
        } else {
            print(TensorFileSummary.render(tensors: summary.tensors, metadata: summary.metadata))
        }
    }
}
