/// OCI distribution client over libcurl; the only module that imports CCurl.
public enum RegistryModule {}
