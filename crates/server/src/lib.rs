//! tributary-server
