//! Client commands, parsed and validated.
