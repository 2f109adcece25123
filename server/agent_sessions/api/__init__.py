"""The gRPC edge: server lifespan, interceptors, the one status mapping, proto converters and
the servicers. The only layer that knows gRPC and the generated protos."""
