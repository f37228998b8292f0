package dev.ganedge.demo

import android.app.Activity
import android.graphics.Bitmap
import android.graphics.Color
import android.os.Bundle
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.TextView
import kotlin.random.Random

/** Generates a batch and shows it: a grid of digits for a 28x28x1 generator, else the numbers. */
class MainActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val layout = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        GanGenerator(this).use { generator ->
            val started = System.nanoTime()
            val samples = generator.generate(Random(0))
            val micros = (System.nanoTime() - started) / 1000
            layout.addView(TextView(this).apply {
                text = "${ModelInterface.MODEL_FILE} on ${generator.accelerator}: $micros us"
            })
            if (ModelInterface.OUTPUT_SHAPE.contentEquals(intArrayOf(28, 28, 1))) {
                layout.addView(ImageView(this).apply { setImageBitmap(digits(samples, generator.sampleSize)) })
            } else {
                layout.addView(TextView(this).apply {
                    text = samples.toList().chunked(generator.sampleSize).joinToString("\n")
                })
            }
        }
        setContentView(layout)
    }

    private fun digits(samples: FloatArray, size: Int): Bitmap {
        val n = samples.size / size
        val bitmap = Bitmap.createBitmap(28 * n, 28, Bitmap.Config.ARGB_8888)
        val low = if (ModelInterface.OUTPUT_LOW.isNaN()) samples.min() else ModelInterface.OUTPUT_LOW
        val high = if (ModelInterface.OUTPUT_HIGH.isNaN()) samples.max() else ModelInterface.OUTPUT_HIGH
        for (i in 0 until n) for (y in 0 until 28) for (x in 0 until 28) {
            val v = ((samples[i * size + y * 28 + x] - low) / (high - low) * 255).toInt().coerceIn(0, 255)
            bitmap.setPixel(i * 28 + x, y, Color.rgb(v, v, v))
        }
        return Bitmap.createScaledBitmap(bitmap, 28 * n * 4, 28 * 4, false)
    }
}
