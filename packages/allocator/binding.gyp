{
  "targets": [
    {
      "target_name": "makalu_mmap",
      "sources": ["native/mmap.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
