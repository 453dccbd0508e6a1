"""xm and xl config files: a safe reader, the disk grammar, a writer, and import to specs."""
