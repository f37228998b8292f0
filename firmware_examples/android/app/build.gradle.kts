plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.ganedge.demo"
    compileSdk = 35
    defaultConfig {
        applicationId = "dev.ganedge.demo"
        minSdk = 26
        targetSdk = 35
    }
    // The .tflite goes into assets uncompressed, so LiteRT can map it.
    androidResources { noCompress += "tflite" }
}

dependencies {
    // The same LiteRT release as the Python runtime (ai-edge-litert 2.3.0).
    implementation("com.google.ai.edge.litert:litert:2.3.0")
    implementation("com.google.ai.edge.litert:litert-gpu:2.3.0")
}
