{
  "targets": [
    {
      "target_name": "ambient_capture",
      "sources": ["capture.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
