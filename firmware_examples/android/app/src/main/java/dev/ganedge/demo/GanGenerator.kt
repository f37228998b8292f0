package dev.ganedge.demo

import android.content.Context
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.Environment
import com.google.ai.edge.litert.TensorBuffer
import kotlin.random.Random

/**
 * The exported generator through LiteRT's CompiledModel: GPU first, CPU if the GPU
 * accelerator cannot take the model (no GPU, an unsupported op, a dynamic batch).
 * Every model-facing number comes from ModelInterface (written from the manifest).
 */
class GanGenerator(context: Context) : AutoCloseable {
    private val env = Environment.create()
    private val model: CompiledModel
    val accelerator: Accelerator
    private val inputs: List<TensorBuffer>
    private val outputs: List<TensorBuffer>
    private val batch = if (ModelInterface.BATCH_SIZE > 0) ModelInterface.BATCH_SIZE else 1
    val sampleSize = ModelInterface.OUTPUT_SHAPE.fold(1) { a, b -> a * b }

    init {
        var chosen = Accelerator.GPU
        model = try {
            CompiledModel.create(context.assets, ModelInterface.MODEL_FILE, CompiledModel.Options(Accelerator.GPU), env)
        } catch (e: Exception) {
            chosen = Accelerator.CPU
            CompiledModel.create(context.assets, ModelInterface.MODEL_FILE, CompiledModel.Options(Accelerator.CPU), env)
        }
        accelerator = chosen
        inputs = model.createInputBuffers()
        outputs = model.createOutputBuffers()
    }

    /** One latent per the manifest's distribution, in data space (float). */
    private fun latentValue(rng: Random): Float =
        if (ModelInterface.LATENT_NORMAL) {
            // Box-Muller: a standard normal from two uniforms.
            val u1 = 1.0 - rng.nextDouble()
            val u2 = rng.nextDouble()
            (Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2)).toFloat()
        } else {
            ModelInterface.LATENT_LOW + rng.nextFloat() * (ModelInterface.LATENT_HIGH - ModelInterface.LATENT_LOW)
        }

    /** `batch` samples, each `sampleSize` floats in data space, row-major. */
    fun generate(rng: Random): FloatArray {
        val z = FloatArray(batch * ModelInterface.LATENT_DIM) { latentValue(rng) }
        if (ModelInterface.INPUT_DTYPE == "int8") {
            val q = ByteArray(z.size) {
                val v = Math.round(z[it] / ModelInterface.INPUT_SCALE) + ModelInterface.INPUT_ZERO_POINT
                v.coerceIn(-128, 127).toByte()
            }
            inputs[0].writeInt8(q)
        } else {
            inputs[0].writeFloat(z)
        }
        model.run(inputs, outputs)
        return if (ModelInterface.OUTPUT_DTYPE == "int8") {
            val q = outputs[0].readInt8()
            FloatArray(q.size) { (q[it] - ModelInterface.OUTPUT_ZERO_POINT) * ModelInterface.OUTPUT_SCALE }
        } else {
            outputs[0].readFloat()
        }
    }

    override fun close() {
        inputs.forEach { it.close() }
        outputs.forEach { it.close() }
        model.close()
        env.close()
    }
}
