// The exported float32 (or float16) generator through TensorFlow Lite Swift with the
// Core ML delegate (Neural Engine / GPU), falling back to the CPU when Core ML cannot
// take the model. Every model-facing number comes from ModelInterface.swift.
import Foundation
import TensorFlowLite

final class GanGenerator {
    private let interpreter: Interpreter
    let usesCoreML: Bool
    let batch = ModelInterface.BATCH_SIZE > 0 ? ModelInterface.BATCH_SIZE : 1
    let sampleSize = ModelInterface.OUTPUT_SHAPE.reduce(1, *)

    init() throws {
        precondition(ModelInterface.INPUT_DTYPE == "float32",
                     "Core ML runs the float32/float16 artifacts; regenerate ModelInterface.swift from one")
        let name = (ModelInterface.MODEL_FILE as NSString).deletingPathExtension
        guard let path = Bundle.main.path(forResource: name, ofType: "tflite") else {
            throw NSError(domain: "GanGenerator", code: 1,
                          userInfo: [NSLocalizedDescriptionKey: "\(ModelInterface.MODEL_FILE) is not in the app bundle"])
        }
        var options = CoreMLDelegate.Options()
        options.enabledDevices = .all  // also devices without a Neural Engine (GPU)
        if let coreML = CoreMLDelegate(options: options) {
            interpreter = try Interpreter(modelPath: path, delegates: [coreML])
            usesCoreML = true
        } else {
            interpreter = try Interpreter(modelPath: path)
            usesCoreML = false
        }
        // A dynamic-batch model is fixed to `batch` here; Core ML needs static shapes.
        try interpreter.resizeInput(at: 0, to: Tensor.Shape([batch, ModelInterface.LATENT_DIM]))
        try interpreter.allocateTensors()
    }

    private func latentValue<G: RandomNumberGenerator>(_ rng: inout G) -> Float {
        if ModelInterface.LATENT_NORMAL {
            let u1 = 1 - Double.random(in: 0..<1, using: &rng)
            let u2 = Double.random(in: 0..<1, using: &rng)
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        return Float.random(in: ModelInterface.LATENT_LOW..<ModelInterface.LATENT_HIGH, using: &rng)
    }

    /// `batch` samples of `sampleSize` floats each, row-major (NHWC for images).
    func generate<G: RandomNumberGenerator>(using rng: inout G) throws -> [Float] {
        let z = (0..<batch * ModelInterface.LATENT_DIM).map { _ in latentValue(&rng) }
        try interpreter.copy(z.withUnsafeBufferPointer { Data(buffer: $0) }, toInputAt: 0)
        try interpreter.invoke()
        let data = try interpreter.output(at: 0).data
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
