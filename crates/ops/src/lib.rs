//! `tributary stream|put|tail`: what an operator does to Kinesis streams, against any
//! Kinesis-compatible endpoint (Tributary or AWS itself).
//!
//! - `plan`: the reshard planner, a pure function from open hash ranges and N to steps.

pub mod plan;
