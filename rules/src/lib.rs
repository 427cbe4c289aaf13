//! canh-rules
