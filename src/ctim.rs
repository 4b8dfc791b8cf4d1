//! Pure GTI → CTIM mapping: sightings, indicators, relationships and the
//! bundle that groups them. No I/O, no clock, no randomness of its own.
