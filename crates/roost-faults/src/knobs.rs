//! Numeric test knobs read from the environment (`ROOST_FAULT_SEED`, `ROOST_CRASH_SEED`,
//! `ROOST_FAULT_SCHEDULES`, …): unset means "use the default", a value that cannot be read is
//! an error naming the variable and the accepted forms — never a silent default. Seeds and
//! counts alike accept decimal (`48879`) and `0x` hex (`0xbeef`), so a seed printed by one run
//! can be pasted into the next in either form.

/// The forms every numeric knob accepts.
pub const ACCEPTED_FORMS: &str = "a whole number, decimal (e.g. 48879) or 0x hex (e.g. 0xbeef)";

/// A knob was set to something that is not one of [`ACCEPTED_FORMS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} cannot be read: expected {ACCEPTED_FORMS}")]
pub struct KnobError {
    pub name: String,
    pub value: String,
}

/// Parses `text` as the value of knob `name`: decimal or `0x`/`0X` hex, `_` separators allowed,
/// surrounding spaces ignored.
pub fn parse_u64(name: &str, text: &str) -> Result<u64, KnobError> {
    let error = || KnobError {
        name: name.to_string(),
        value: text.to_string(),
    };
    let trimmed = text.trim();
    let (digits, radix) = match trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        Some(hex) => (hex, 16),
        None => (trimmed, 10),
    };
    let digits = digits.replace('_', "");
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return Err(error());
    }
    u64::from_str_radix(&digits, radix).map_err(|_| error())
}

/// The knob `name` from the environment: `Ok(None)` when unset or empty, the number when it
/// reads as one, else the error (also for a value that is not UTF-8).
pub fn env_u64(name: &str) -> Result<Option<u64>, KnobError> {
    knob_value(name, std::env::var(name))
}

/// [`env_u64`] for a test: a knob that cannot be read stops the test with the error.
pub fn env_u64_or(name: &str, default: u64) -> u64 {
    or_stop(env_u64(name), default)
}

fn knob_value(
    name: &str,
    var: Result<String, std::env::VarError>,
) -> Result<Option<u64>, KnobError> {
    match var {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => Err(KnobError {
            name: name.to_string(),
            value: raw.to_string_lossy().into_owned(),
        }),
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => parse_u64(name, &text).map(Some),
    }
}

fn or_stop(value: Result<Option<u64>, KnobError>, default: u64) -> u64 {
    match value {
        Ok(value) => value.unwrap_or(default),
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex_read_alike() {
        assert_eq!(parse_u64("S", "195936478"), Ok(0xbadc0de));
        assert_eq!(parse_u64("S", "0xbadc0de"), Ok(195936478));
        assert_eq!(parse_u64("S", "0XBADC0DE"), Ok(195936478));
        assert_eq!(parse_u64("S", " 0x5EED_2026 "), Ok(0x5EED_2026));
        assert_eq!(parse_u64("S", "1_000"), Ok(1000));
        assert_eq!(parse_u64("S", "18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn unreadable_values_are_errors_naming_the_variable_and_the_forms() {
        for bad in [
            "0xbadg00d",
            "seed",
            "-1",
            "+1",
            "0x",
            "1.5",
            "18446744073709551616",
            "12 34",
        ] {
            let error = parse_u64("ROOST_CRASH_SEED", bad).unwrap_err();
            let text = error.to_string();
            assert!(text.starts_with("ROOST_CRASH_SEED="), "{text}");
            assert!(text.contains(&format!("{bad:?}")), "{text}");
            assert!(
                text.contains("decimal") && text.contains("0x hex"),
                "{text}"
            );
        }
    }

    #[test]
    fn unset_or_empty_means_default_and_a_bad_value_stops() {
        use std::env::VarError;
        let name = "ROOST_CRASH_SEED";
        assert_eq!(knob_value(name, Err(VarError::NotPresent)), Ok(None));
        assert_eq!(or_stop(knob_value(name, Err(VarError::NotPresent)), 7), 7);
        assert_eq!(knob_value(name, Ok("  ".into())), Ok(None));
        assert_eq!(or_stop(knob_value(name, Ok("0x10".into())), 7), 16);
        let not_utf8 =
            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(vec![0xff, 0x31]);
        assert!(knob_value(name, Err(VarError::NotUnicode(not_utf8))).is_err());
        let bad = knob_value(name, Ok("0xbadc0dez".into()));
        let panic = std::panic::catch_unwind(|| or_stop(bad, 7)).unwrap_err();
        let text = panic.downcast_ref::<String>().unwrap();
        assert!(
            text.contains("ROOST_CRASH_SEED") && text.contains("0x hex"),
            "{text}"
        );
        // Unset in the environment here: the default.
        assert_eq!(env_u64_or("ROOST_KNOBS_NEVER_SET_ANYWHERE", 3), 3);
    }
}
