//! Exact units: Kubernetes quantities, durations and percentages.
//!
//! All three are fixed-point integers (`i128`), so arithmetic is exact and output is canonical:
//! - [`Quantity`]: a count of milli-units (`1` = 1000) plus the format family it was written in
//!   (binary `Ki..Ei`, decimal `m k M G T P E`, or a decimal exponent `1e3`). Parsing follows the
//!   Kubernetes grammar; a value that is not a whole number of milli-units (`0.0001`, `1.0001Ki`)
//!   is rejected instead of being rounded. [`Quantity::canonical`] serializes like apimachinery:
//!   the largest suffix of the same family that keeps an integer (`1.5Gi` -> `1536Mi`,
//!   `1.5G` -> `1500M`, `0.5` -> `500m`, `2000m` -> `2`, `1024Ki` -> `1Mi`); a binary value that is
//!   fractional or smaller than 1024 falls back to the decimal form, as Kubernetes does.
//! - [`Duration`]: whole milliseconds, written `ms s min h d` in kiln (`m` is never minutes: it is
//!   milli in quantities). Output uses Go's `time.Duration` string form (`90s` -> `1m30s`,
//!   `2h` -> `2h0m0s`, `1500ms` -> `1.5s`, `500ms` -> `500ms`), which is what Kubernetes and
//!   Kubeflow controllers parse (`metav1.Duration`). Days are printed as hours (`1d` -> `24h0m0s`).
//! - [`Percent`]: milli-percent (`2.5%` = 2500), printed `2.5%`.
//!
//! The dimension (Cpu, Memory, ...) is a static type, not part of the value; the arithmetic
//! helpers here only guarantee exactness and report overflow, inexact division and division by
//! zero as [`ArithError`].

use std::fmt;

/// How a quantity was written; decides its canonical suffix family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `Ki Mi Gi Ti Pi Ei`.
    BinarySi,
    /// No suffix or `m k M G T P E`.
    DecimalSi,
    /// `1e3`, `5E-3` (only in strings; kiln's `1e3` literal is a float).
    DecimalExponent,
}

/// An exact Kubernetes quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity {
    /// Value times 1000.
    pub milli: i128,
    pub format: Format,
}

/// An exact duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duration {
    pub millis: i128,
}

/// An exact percentage in thousandths of a percent (`2.5%` = 2500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Percent {
    pub milli: i128,
}

/// Why a unit literal or string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    /// Not in the grammar at all.
    Syntax,
    /// An unknown suffix (`16gb`).
    UnknownSuffix(String),
    /// Finer than the smallest representable step (a thousandth for quantities, a millisecond
    /// for durations).
    TooPrecise,
    Overflow,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::Syntax => write!(f, "not a number with a unit"),
            UnitError::UnknownSuffix(s) => write!(f, "unknown unit suffix `{s}`"),
            UnitError::TooPrecise => write!(f, "more precise than the unit allows"),
            UnitError::Overflow => write!(f, "too large"),
        }
    }
}

/// Why an exact operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithError {
    Overflow,
    DivisionByZero,
    /// The quotient is not a whole number of the smallest step.
    Inexact,
}

impl fmt::Display for ArithError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArithError::Overflow => write!(f, "the result is too large"),
            ArithError::DivisionByZero => write!(f, "division by zero"),
            ArithError::Inexact => write!(f, "the result is not exact"),
        }
    }
}

const BINARY_SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
/// Decimal suffixes with their power of 1000; `m` is 1000^-1.
const DECIMAL_SUFFIXES: [(&str, i32); 8] = [
    ("m", -1),
    ("", 0),
    ("k", 1),
    ("M", 2),
    ("G", 3),
    ("T", 4),
    ("P", 5),
    ("E", 6),
];

/// A decimal number split into digits and scale: `12.50` -> (1250, 2). Also returns the rest.
fn split_number(s: &str) -> Result<(i128, u32, &str), UnitError> {
    let bytes = s.as_bytes();
    let (negative, mut i) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mantissa: i128 = 0;
    let mut scale: u32 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or(UnitError::Overflow)?;
            digits += 1;
            if seen_dot {
                scale += 1;
            }
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else if b == b'_' && digits > 0 && !seen_dot {
            // kiln allows `1_000Gi` like plain integers.
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return Err(UnitError::Syntax);
    }
    // Trailing fractional zeros do not add precision.
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Ok((if negative { -mantissa } else { mantissa }, scale, &s[i..]))
}

fn pow10(e: u32) -> Result<i128, UnitError> {
    10i128.checked_pow(e).ok_or(UnitError::Overflow)
}

/// `mantissa / 10^scale * num / den`, exactly, or an error.
fn exact(mantissa: i128, scale: u32, num: i128, den: i128) -> Result<i128, UnitError> {
    let n = mantissa.checked_mul(num).ok_or(UnitError::Overflow)?;
    let d = pow10(scale)?.checked_mul(den).ok_or(UnitError::Overflow)?;
    if n % d != 0 {
        return Err(UnitError::TooPrecise);
    }
    Ok(n / d)
}

impl Quantity {
    pub fn from_milli(milli: i128, format: Format) -> Quantity {
        Quantity { milli, format }
    }

    /// A whole number of units in the decimal format (`cpu = 4`).
    pub fn from_int(n: i64) -> Quantity {
        Quantity {
            milli: i128::from(n) * 1000,
            format: Format::DecimalSi,
        }
    }

    /// Parses the Kubernetes quantity grammar: `16Gi`, `1.5G`, `500m`, `0.5`, `1e3`, `-2`.
    pub fn parse(s: &str) -> Result<Quantity, UnitError> {
        let (mantissa, scale, suffix) = split_number(s)?;
        if let Some(k) = BINARY_SUFFIXES.iter().position(|b| *b == suffix) {
            let factor = 1024i128.pow(k as u32 + 1) * 1000;
            return Ok(Quantity {
                milli: exact(mantissa, scale, factor, 1)?,
                format: Format::BinarySi,
            });
        }
        if let Some((_, p)) = DECIMAL_SUFFIXES.iter().find(|(d, _)| *d == suffix) {
            let milli = if *p >= 0 {
                exact(mantissa, scale, pow10(3 * (*p as u32) + 3)?, 1)?
            } else {
                exact(mantissa, scale, 1, 1)?
            };
            return Ok(Quantity {
                milli,
                format: Format::DecimalSi,
            });
        }
        if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 3 {
                let e: i32 = exp.parse().map_err(|_| UnitError::Syntax)?;
                let shift = e + 3;
                let milli = if shift >= 0 {
                    exact(mantissa, scale, pow10(shift as u32)?, 1)?
                } else {
                    exact(mantissa, scale, 1, pow10(shift.unsigned_abs())?)?
                };
                return Ok(Quantity {
                    milli,
                    format: Format::DecimalExponent,
                });
            }
        }
        if suffix.is_empty() {
            return Err(UnitError::Syntax);
        }
        Err(UnitError::UnknownSuffix(suffix.to_string()))
    }

    /// The canonical Kubernetes form (see the module docs).
    pub fn canonical(&self) -> String {
        if self.format == Format::BinarySi && self.milli % 1000 == 0 && self.milli.abs() >= 1024 * 1000 {
            let units = self.milli / 1000;
            let mut k = 0;
            let mut mantissa = units;
            while k < BINARY_SUFFIXES.len() && mantissa % 1024 == 0 {
                mantissa /= 1024;
                k += 1;
            }
            if k > 0 {
                return format!("{mantissa}{}", BINARY_SUFFIXES[k - 1]);
            }
            return units.to_string();
        }
        if self.milli == 0 {
            return "0".to_string();
        }
        // Largest power of 1000 (starting at milli) that divides the value.
        let mut mantissa = self.milli;
        let mut p: i32 = -1;
        while p < 6 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            p += 1;
        }
        if self.format == Format::DecimalExponent {
            return match p {
                0 => mantissa.to_string(),
                _ => format!("{mantissa}e{}", 3 * p),
            };
        }
        let suffix = DECIMAL_SUFFIXES
            .iter()
            .find(|(_, q)| *q == p)
            .map_or("", |(s, _)| s);
        format!("{mantissa}{suffix}")
    }

    pub fn checked_add(self, other: Quantity) -> Result<Quantity, ArithError> {
        let milli = self.milli.checked_add(other.milli).ok_or(ArithError::Overflow)?;
        Ok(Quantity { milli, ..self })
    }

    pub fn checked_sub(self, other: Quantity) -> Result<Quantity, ArithError> {
        let milli = self.milli.checked_sub(other.milli).ok_or(ArithError::Overflow)?;
        Ok(Quantity { milli, ..self })
    }

    pub fn checked_mul_int(self, n: i64) -> Result<Quantity, ArithError> {
        let milli = self
            .milli
            .checked_mul(i128::from(n))
            .ok_or(ArithError::Overflow)?;
        Ok(Quantity { milli, ..self })
    }

    /// Exact division by an integer: `3Gi / 2` is `1536Mi`; `1 / 3` is an error.
    pub fn checked_div_int(self, n: i64) -> Result<Quantity, ArithError> {
        Ok(Quantity {
            milli: exact_div(self.milli, i128::from(n))?,
            ..self
        })
    }

    /// The ratio of two quantities of one dimension.
    pub fn ratio(self, other: Quantity) -> Result<f64, ArithError> {
        ratio(self.milli, other.milli)
    }

    pub fn checked_neg(self) -> Result<Quantity, ArithError> {
        let milli = self.milli.checked_neg().ok_or(ArithError::Overflow)?;
        Ok(Quantity { milli, ..self })
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.milli.cmp(&other.milli))
    }
}

fn exact_div(a: i128, b: i128) -> Result<i128, ArithError> {
    if b == 0 {
        return Err(ArithError::DivisionByZero);
    }
    if a % b != 0 {
        return Err(ArithError::Inexact);
    }
    a.checked_div(b).ok_or(ArithError::Overflow)
}

fn ratio(a: i128, b: i128) -> Result<f64, ArithError> {
    if b == 0 {
        return Err(ArithError::DivisionByZero);
    }
    Ok(a as f64 / b as f64)
}

/// Duration suffixes in milliseconds. `min` must be tried before `m`-less matches; order is exact.
const DURATION_SUFFIXES: [(&str, i128); 5] = [
    ("ms", 1),
    ("s", 1000),
    ("min", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

impl Duration {
    pub fn from_millis(millis: i128) -> Duration {
        Duration { millis }
    }

    /// Parses kiln's duration literal: a number and one of `ms s min h d` (`90s`, `1.5h`).
    pub fn parse(s: &str) -> Result<Duration, UnitError> {
        let (mantissa, scale, suffix) = split_number(s)?;
        match DURATION_SUFFIXES.iter().find(|(d, _)| *d == suffix) {
            Some((_, factor)) => Ok(Duration {
                millis: exact(mantissa, scale, *factor, 1)?,
            }),
            None if suffix.is_empty() => Err(UnitError::Syntax),
            None => Err(UnitError::UnknownSuffix(suffix.to_string())),
        }
    }

    /// Parses Go's duration strings as printed by [`Duration::canonical`] (`1h30m0s`, `1.5s`,
    /// `500ms`); `m` means minutes there.
    pub fn parse_go(s: &str) -> Result<Duration, UnitError> {
        let (negative, mut rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        if rest == "0" {
            return Ok(Duration { millis: 0 });
        }
        let mut total: i128 = 0;
        if rest.is_empty() {
            return Err(UnitError::Syntax);
        }
        while !rest.is_empty() {
            let (mantissa, scale, after) = split_number(rest)?;
            if mantissa < 0 {
                return Err(UnitError::Syntax);
            }
            let unit_len = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let factor = match &after[..unit_len] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "" => return Err(UnitError::Syntax),
                other => return Err(UnitError::UnknownSuffix(other.to_string())),
            };
            total = total
                .checked_add(exact(mantissa, scale, factor, 1)?)
                .ok_or(UnitError::Overflow)?;
            rest = &after[unit_len..];
        }
        Ok(Duration {
            millis: if negative { -total } else { total },
        })
    }

    /// A duration given on the command line (`--timeout`, `--request-timeout`, intervals): the
    /// language's spelling (`5min`, `2d`, `1.5h`), kubectl's and Go's (`5m`, `1h30m`, `500ms`),
    /// or bare seconds (`90`); never negative. Every CLI flag that takes a duration uses this,
    /// so the same text means the same time everywhere.
    pub fn parse_command_line(text: &str) -> Result<std::time::Duration, String> {
        let bad = || format!("`{text}` is not a duration (examples: 90s, 5min, 5m, 1h30m, 2d)");
        let text = text.trim();
        let parsed = match text.parse::<u64>() {
            Ok(secs) => return Ok(std::time::Duration::from_secs(secs)),
            Err(_) => Duration::parse(text).or_else(|_| Duration::parse_go(text)),
        };
        match parsed {
            Ok(d) if d.millis >= 0 => u64::try_from(d.millis)
                .map(std::time::Duration::from_millis)
                .map_err(|_| bad()),
            Ok(_) => Err(format!("`{text}` is negative; give a duration of zero or more")),
            Err(_) => Err(bad()),
        }
    }

    /// Go's `time.Duration.String()` form (see the module docs).
    pub fn canonical(&self) -> String {
        let sign = if self.millis < 0 { "-" } else { "" };
        let ms = self.millis.unsigned_abs();
        if ms == 0 {
            return "0s".to_string();
        }
        if ms < 1000 {
            return format!("{sign}{ms}ms");
        }
        let secs = ms / 1000;
        let frac = ms % 1000;
        let mut seconds = (secs % 60).to_string();
        if frac != 0 {
            let digits = format!("{frac:03}");
            seconds.push('.');
            seconds.push_str(digits.trim_end_matches('0'));
        }
        let minutes = (secs / 60) % 60;
        let hours = secs / 3600;
        if hours > 0 {
            format!("{sign}{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            format!("{sign}{minutes}m{seconds}s")
        } else {
            format!("{sign}{seconds}s")
        }
    }

    pub fn checked_add(self, other: Duration) -> Result<Duration, ArithError> {
        self.millis
            .checked_add(other.millis)
            .map(Duration::from_millis)
            .ok_or(ArithError::Overflow)
    }

    pub fn checked_sub(self, other: Duration) -> Result<Duration, ArithError> {
        self.millis
            .checked_sub(other.millis)
            .map(Duration::from_millis)
            .ok_or(ArithError::Overflow)
    }

    pub fn checked_mul_int(self, n: i64) -> Result<Duration, ArithError> {
        self.millis
            .checked_mul(i128::from(n))
            .map(Duration::from_millis)
            .ok_or(ArithError::Overflow)
    }

    pub fn checked_div_int(self, n: i64) -> Result<Duration, ArithError> {
        exact_div(self.millis, i128::from(n)).map(Duration::from_millis)
    }

    pub fn ratio(self, other: Duration) -> Result<f64, ArithError> {
        ratio(self.millis, other.millis)
    }

    pub fn checked_neg(self) -> Result<Duration, ArithError> {
        self.millis
            .checked_neg()
            .map(Duration::from_millis)
            .ok_or(ArithError::Overflow)
    }
}

impl Percent {
    /// Parses `10%`, `2.5%` (at most three decimals).
    pub fn parse(s: &str) -> Result<Percent, UnitError> {
        let (mantissa, scale, suffix) = split_number(s)?;
        match suffix {
            "%" => Ok(Percent {
                milli: exact(mantissa, scale, 1000, 1)?,
            }),
            "" => Err(UnitError::Syntax),
            other => Err(UnitError::UnknownSuffix(other.to_string())),
        }
    }

    pub fn canonical(&self) -> String {
        let sign = if self.milli < 0 { "-" } else { "" };
        let abs = self.milli.unsigned_abs();
        let (whole, frac) = (abs / 1000, abs % 1000);
        if frac == 0 {
            format!("{sign}{whole}%")
        } else {
            let digits = format!("{frac:03}");
            format!("{sign}{whole}.{}%", digits.trim_end_matches('0'))
        }
    }

    pub fn checked_add(self, other: Percent) -> Result<Percent, ArithError> {
        self.milli
            .checked_add(other.milli)
            .map(|milli| Percent { milli })
            .ok_or(ArithError::Overflow)
    }

    pub fn checked_sub(self, other: Percent) -> Result<Percent, ArithError> {
        self.milli
            .checked_sub(other.milli)
            .map(|milli| Percent { milli })
            .ok_or(ArithError::Overflow)
    }

    pub fn checked_mul_int(self, n: i64) -> Result<Percent, ArithError> {
        self.milli
            .checked_mul(i128::from(n))
            .map(|milli| Percent { milli })
            .ok_or(ArithError::Overflow)
    }

    pub fn checked_div_int(self, n: i64) -> Result<Percent, ArithError> {
        exact_div(self.milli, i128::from(n)).map(|milli| Percent { milli })
    }

    pub fn ratio(self, other: Percent) -> Result<f64, ArithError> {
        ratio(self.milli, other.milli)
    }

    pub fn checked_neg(self) -> Result<Percent, ArithError> {
        self.milli
            .checked_neg()
            .map(|milli| Percent { milli })
            .ok_or(ArithError::Overflow)
    }

    /// The fraction it stands for (`10%` -> 0.1).
    pub fn as_fraction(self) -> f64 {
        self.milli as f64 / 100_000.0
    }
}

/// Converts a float to an exact Cpu-style quantity (`cpu = 0.25`), or `TooPrecise` when it has
/// more than three decimals.
pub fn quantity_from_f64(f: f64) -> Result<Quantity, UnitError> {
    if !f.is_finite() {
        return Err(UnitError::Overflow);
    }
    // Rust prints the shortest representation that round-trips, never with an exponent for `{}`.
    let text = format!("{f}");
    Quantity::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn canonical_like_apimachinery() {
        assert_eq!(canon("1.5Gi"), "1536Mi");
        assert_eq!(canon("1.5G"), "1500M");
        assert_eq!(canon("0.5"), "500m");
        assert_eq!(canon("2000m"), "2");
        assert_eq!(canon("1024Ki"), "1Mi");
        assert_eq!(canon("1000Ki"), "1000Ki");
        assert_eq!(canon("16Gi"), "16Gi");
        assert_eq!(canon("1000"), "1k");
        assert_eq!(canon("100"), "100");
        assert_eq!(canon("0"), "0");
        assert_eq!(canon("0Gi"), "0");
        assert_eq!(canon("0.5Ki"), "512");
        assert_eq!(canon("1.5Ki"), "1536");
        assert_eq!(canon("-1.5Gi"), "-1536Mi");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("1.5e3"), "1500");
        assert_eq!(canon("5E-3"), "5e-3");
        assert_eq!(canon("1E"), "1E");
        assert_eq!(canon("1Ei"), "1Ei");
        assert_eq!(canon("12.50"), "12500m");
        assert_eq!(canon("1_000Mi"), "1000Mi");
    }

    #[test]
    fn parse_values_and_errors() {
        assert_eq!(Quantity::parse("500m").unwrap().milli, 500);
        assert_eq!(Quantity::parse("1Ki").unwrap().milli, 1_024_000);
        assert_eq!(Quantity::parse("1k").unwrap().milli, 1_000_000);
        assert_eq!(Quantity::parse("0.0001"), Err(UnitError::TooPrecise));
        assert_eq!(Quantity::parse("0.5m"), Err(UnitError::TooPrecise));
        assert_eq!(
            Quantity::parse("0.001"),
            Ok(Quantity::from_milli(1, Format::DecimalSi))
        );
        assert_eq!(
            Quantity::parse("16gb"),
            Err(UnitError::UnknownSuffix("gb".into()))
        );
        assert_eq!(Quantity::parse("Gi"), Err(UnitError::Syntax));
        assert_eq!(Quantity::parse(""), Err(UnitError::Syntax));
        assert_eq!(
            Quantity::parse("99999999999999999999999999999999999999Ei"),
            Err(UnitError::Overflow)
        );
        assert!(Quantity::parse("1e999999").is_err());
    }

    #[test]
    fn quantity_arithmetic() {
        let a = Quantity::parse("8Gi").unwrap();
        let b = Quantity::parse("512Mi").unwrap();
        assert_eq!(a.checked_add(b).unwrap().canonical(), "8704Mi");
        assert_eq!(a.checked_sub(b).unwrap().canonical(), "7680Mi");
        assert_eq!(a.checked_mul_int(4).unwrap().canonical(), "32Gi");
        assert_eq!(
            Quantity::parse("3Gi")
                .unwrap()
                .checked_div_int(2)
                .unwrap()
                .canonical(),
            "1536Mi"
        );
        assert_eq!(
            Quantity::parse("1m").unwrap().checked_div_int(3),
            Err(ArithError::Inexact)
        );
        assert_eq!(a.checked_div_int(0), Err(ArithError::DivisionByZero));
        assert_eq!(a.ratio(b).unwrap(), 16.0);
        assert!(a > b);
        let big = Quantity::from_milli(i128::MAX, Format::DecimalSi);
        assert_eq!(big.checked_add(a), Err(ArithError::Overflow));
        assert_eq!(quantity_from_f64(0.25).unwrap().canonical(), "250m");
        assert_eq!(quantity_from_f64(0.0001), Err(UnitError::TooPrecise));
    }

    #[test]
    fn durations() {
        let d = |s: &str| Duration::parse(s).unwrap();
        assert_eq!(d("90s").canonical(), "1m30s");
        assert_eq!(d("2h").canonical(), "2h0m0s");
        assert_eq!(d("90min").canonical(), "1h30m0s");
        assert_eq!(d("1500ms").canonical(), "1.5s");
        assert_eq!(d("500ms").canonical(), "500ms");
        assert_eq!(d("1d").canonical(), "24h0m0s");
        assert_eq!(d("0s").canonical(), "0s");
        assert_eq!(d("1.5h").canonical(), "1h30m0s");
        assert_eq!(Duration::parse("1.5ms"), Err(UnitError::TooPrecise));
        assert_eq!(Duration::parse("5m"), Err(UnitError::UnknownSuffix("m".into())));
        assert_eq!(Duration::parse_go("1h30m0s").unwrap(), d("90min"));
        assert_eq!(Duration::parse_go("-1.5s").unwrap().millis, -1500);
        assert_eq!(d("1h").checked_div_int(7), Err(ArithError::Inexact));
        assert_eq!(d("1h").checked_div_int(4).unwrap().canonical(), "15m0s");
    }

    #[test]
    fn command_line_durations_take_both_spellings() {
        let d = |s: &str| Duration::parse_command_line(s);
        let secs = std::time::Duration::from_secs;
        assert_eq!(d("5min"), Ok(secs(300)));
        assert_eq!(d("5m"), Ok(secs(300)));
        assert_eq!(d("1h30m"), Ok(secs(5400)));
        assert_eq!(d("1.5h"), Ok(secs(5400)));
        assert_eq!(d("2d"), Ok(secs(172_800)));
        assert_eq!(d("90"), Ok(secs(90)));
        assert_eq!(d("500ms"), Ok(std::time::Duration::from_millis(500)));
        assert!(d("-5s").unwrap_err().contains("negative"));
        for bad in ["", "5x", "m", "5 min", "1h30"] {
            assert!(d(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn percents() {
        assert_eq!(Percent::parse("10%").unwrap().canonical(), "10%");
        assert_eq!(Percent::parse("2.50%").unwrap().canonical(), "2.5%");
        assert_eq!(Percent::parse("0.0001%"), Err(UnitError::TooPrecise));
        assert_eq!(Percent::parse("-0.5%").unwrap().canonical(), "-0.5%");
        assert_eq!(Percent::parse("10%").unwrap().as_fraction(), 0.1);
    }

    fn any_format() -> impl Strategy<Value = Format> {
        prop_oneof![
            Just(Format::BinarySi),
            Just(Format::DecimalSi),
            Just(Format::DecimalExponent)
        ]
    }

    proptest! {
        #[test]
        fn quantity_round_trip(milli in -(1i128 << 80)..(1i128 << 80), format in any_format()) {
            let q = Quantity::from_milli(milli, format);
            let text = q.canonical();
            let back = Quantity::parse(&text).unwrap();
            prop_assert_eq!(back.milli, milli);
            // A binary value that is not a multiple of 1024 prints without a suffix and reads
            // back as decimal (as in apimachinery), so only same-family output is compared.
            if back.format == format || format == Format::BinarySi && text.ends_with('i') {
                prop_assert_eq!(back.canonical(), text);
            }
        }

        #[test]
        fn binary_multiples_keep_binary_suffix(n in 1i64..1_000_000, k in 1u32..4) {
            let q = Quantity::from_milli(i128::from(n) * 1024i128.pow(k) * 1000, Format::BinarySi);
            let text = q.canonical();
            prop_assert!(text.ends_with('i'), "{}", text);
        }

        #[test]
        fn duration_round_trip(millis in -(1i128 << 60)..(1i128 << 60)) {
            let d = Duration::from_millis(millis);
            prop_assert_eq!(Duration::parse_go(&d.canonical()).unwrap(), d);
        }

        #[test]
        fn percent_round_trip(milli in -(1i128 << 60)..(1i128 << 60)) {
            let p = Percent { milli };
            prop_assert_eq!(Percent::parse(&p.canonical()).unwrap(), p);
        }

        #[test]
        fn parse_never_panics(s in "[-+0-9._eEkKMGTPimn%]{0,24}") {
            let _ = Quantity::parse(&s);
            let _ = Duration::parse(&s);
            let _ = Duration::parse_go(&s);
            let _ = Percent::parse(&s);
        }
    }
}
