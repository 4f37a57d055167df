{
  "targets": [
    {
      "target_name": "loaa_native",
      "sources": ["native/addon.cc", "native/tensor_wrap.cc", "native/ops.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.mjs include)"
      ],
      "libraries": [
        "-L<!(node scripts/find-libtorch.mjs libdir)",
        "<!@(node scripts/find-libtorch.mjs libs)",
        "-Wl,-rpath,<!(node scripts/find-libtorch.mjs libdir)",
        "-Wl,--no-as-needed"
      ],
      "defines": [
        "NAPI_CPP_EXCEPTIONS",
        "NAPI_VERSION=8",
        "_GLIBCXX_USE_CXX11_ABI=<!(node scripts/find-libtorch.mjs abi)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    }
  ]
}
