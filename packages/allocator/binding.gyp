{
  "targets": [
    {
      "target_name": "makalu_mmap",
      "sources": ["native/mmap.cc"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"]
    }
  ]
}
