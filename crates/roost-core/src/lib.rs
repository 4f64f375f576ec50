//! Roost client core.
