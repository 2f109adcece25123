"""The gRPC edge: server lifespan, the call guard (auth, errors), the one status mapping, proto converters and
the servicers. The only layer that knows gRPC and the generated protos."""
