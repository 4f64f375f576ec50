//! Roost reference sync server.
