/// The image store: content-addressed blobs, references, imports, pulls and layer unpack.
public enum ImageStoreModule {}
