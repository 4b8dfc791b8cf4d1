//! The mock GTI lives in the library (`gti_relay::demo::gti`) so that the
//! demo mode and the benchmarks share it with the tests.

pub use gti_relay::demo::gti::*;
