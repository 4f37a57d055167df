{
  "targets": [
    {
      "target_name": "loaa_native",
      "sources": ["native/addon.cc", "native/tensor_wrap.cc", "native/ops.cc", "native/device_ops.cc", "native/distributed.cc", "native/profiler.cc", "native/gemm.cc", "native/attention.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.mjs include)"
      ],
      "libraries": [
        "-Wl,--no-as-needed",
        "-ldl",
        "-L<!(node scripts/find-libtorch.mjs libdir)",
        "<!@(node scripts/find-libtorch.mjs libs)",
        "-Wl,-rpath,<!(node scripts/find-libtorch.mjs libdir)",
        "<!@(node scripts/find-libtorch.mjs rpaths)"
      ],
      "defines": [
        "NAPI_CPP_EXCEPTIONS",
        "NDEBUG",
        "NAPI_VERSION=8",
        "_GLIBCXX_USE_CXX11_ABI=<!(node scripts/find-libtorch.mjs abi)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=<!(node scripts/find-libtorch.mjs std)", "-O2", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    }
  ]
}
