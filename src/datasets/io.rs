//! Shared low-level reading: plain or gzip files, bounded line reading, exact number parsing.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::error::{cut_token, ReadError};

/// Longest line any reader accepts, in bytes (without the line end). Longer lines are an error, found before
/// more memory is allocated.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Largest |time| any reader accepts, ns: 2^62 ns, about 146 years either side of the clock's zero (Unix epoch
/// times in ns are about 2^60.4 today). The headroom keeps the difference or sum of any two accepted times within
/// an `i64`, so spans, margins and clock ticks computed from them cannot overflow.
pub const MAX_ABS_TIME_NS: i64 = 1 << 62;

/// Checks that a time read from `file:line` (column `field`) lies within [`MAX_ABS_TIME_NS`].
pub(crate) fn check_time(file: &str, line: u64, field: &str, t_ns: i64) -> Result<i64, ReadError> {
    if t_ns.checked_abs().is_some_and(|a| a <= MAX_ABS_TIME_NS) {
        Ok(t_ns)
    } else {
        Err(ReadError::TimeOutOfRange { file: file.to_string(), line, field: field.to_string(), t_ns })
    }
}

/// A boxed buffered reader over a plain or decompressed file.
pub(crate) type DynRead = Box<dyn BufRead + Send>;

/// Opens `path`; names ending in `.gz` are decompressed on the fly.
pub(crate) fn open(path: &Path) -> Result<DynRead, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io { file: path.display().to_string(), source })?;
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    Ok(if gz {
        Box::new(BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(BufReader::new(file))))
    } else {
        Box::new(BufReader::with_capacity(256 * 1024, file))
    })
}

/// Opens `path` as a [`Lines`] reader named after the path.
pub(crate) fn open_lines(path: &Path) -> Result<Lines<DynRead>, ReadError> {
    Ok(Lines::new(open(path)?, path.display().to_string()))
}

/// Reads lines one at a time into one reused buffer, with a length limit, UTF-8 check and 1-based numbering.
pub(crate) struct Lines<R> {
    inner: R,
    file: String,
    line: u64,
    buf: Vec<u8>,
    limit: usize,
}

/// One line as returned by [`Lines::next_line`].
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub no: u64,
    /// The text without its line end (`\n` or `\r\n`).
    pub text: &'a str,
}

impl<'a> Line<'a> {
    /// The comma-separated fields of this line, which must number exactly `expected`.
    pub(crate) fn fields(&self, file: &str, expected: usize) -> Result<Vec<&'a str>, ReadError> {
        let f: Vec<&'a str> = self.text.split(',').collect();
        if f.len() != expected {
            return Err(ReadError::ColumnCount { file: file.to_string(), line: self.no, expected, found: f.len() });
        }
        Ok(f)
    }
}

impl<R: BufRead> Lines<R> {
    /// Wraps a reader; `file` names it in errors.
    pub(crate) fn new(inner: R, file: String) -> Self {
        Lines { inner, file, line: 0, buf: Vec::with_capacity(256), limit: MAX_LINE_BYTES }
    }

    /// Uses another line length limit (tests).
    #[allow(dead_code)]
    pub(crate) fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The name used in errors.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// Reads the first line and checks that it is exactly `header` (`Empty` when there is no line at all).
    pub(crate) fn expect_header(&mut self, header: &str) -> Result<(), ReadError> {
        let file = self.file.clone();
        match self.next_line()? {
            None => Err(ReadError::Empty { file }),
            Some(l) if l.text.trim() != header => {
                Err(ReadError::Header { file, line: 1, reason: format!("expected {header}") })
            }
            Some(_) => Ok(()),
        }
    }

    /// The next line, or `None` at the end of the input. A last line with text but no line end is
    /// [`ReadError::Truncated`]: every file these readers take (the datasets' and the trace CSV writer's) ends its
    /// lines, so such a line is most likely cut short, and a cut number or label still parses (`9.8` cut to `9.`, a
    /// label `12` cut to `1`). A whitespace-only last line is the end of the input.
    pub(crate) fn next_line(&mut self) -> Result<Option<Line<'_>>, ReadError> {
        self.buf.clear();
        let no = self.line + 1;
        let mut terminated = false;
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Err(ReadError::Truncated {
                        file: self.file.clone(),
                        line: no,
                        reason: format!("compressed stream ends early ({e})"),
                    })
                }
                Err(source) => return Err(ReadError::Io { file: self.file.clone(), source }),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (take, consume, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i, i + 1, true),
                None => (avail.len(), avail.len(), false),
            };
            if self.buf.len() + take > self.limit {
                return Err(ReadError::LineTooLong { file: self.file.clone(), line: no, limit: self.limit });
            }
            self.buf.extend_from_slice(&avail[..take]);
            self.inner.consume(consume);
            if done {
                terminated = true;
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line = no;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let mut bytes = &self.buf[..];
        if no == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes = &bytes[3..];
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 { file: self.file.clone(), line: no })?;
        if !terminated {
            if text.trim().is_empty() {
                return Ok(None);
            }
            return Err(ReadError::Truncated {
                file: self.file.clone(),
                line: no,
                reason: "the last line has no line end, so it may be cut short (if the file is complete, end it with \
                         a line break)"
                    .into(),
            });
        }
        Ok(Some(Line { no, text }))
    }
}

/// A parse error for `token` in `field`.
pub(crate) fn parse_err(file: &str, line: u64, field: &str, token: &str, reason: &str) -> ReadError {
    ReadError::Parse {
        file: file.to_string(),
        line,
        field: field.to_string(),
        token: cut_token(token),
        reason: reason.to_string(),
    }
}

/// Parses a finite float.
pub(crate) fn parse_f64(file: &str, line: u64, field: &str, token: &str) -> Result<f64, ReadError> {
    let t = token.trim();
    let v: f64 = t.parse().map_err(|_| parse_err(file, line, field, token, "as a number"))?;
    if !v.is_finite() {
        return Err(parse_err(file, line, field, token, "as a finite number"));
    }
    // Readers convert to f32 and scale (g to m/s^2): a finite token beyond this would overflow there and be
    // reported as "not a finite number", naming neither the token nor the real problem.
    if v.abs() > MAX_READ_MAGNITUDE {
        return Err(parse_err(file, line, field, token, "as a number of plausible size (at most 1e30)"));
    }
    Ok(v)
}

/// Largest magnitude [`parse_f64`] reads: far beyond any sensor value or timestamp in seconds, far below where
/// `f32` overflows after a unit conversion.
const MAX_READ_MAGNITUDE: f64 = 1e30;

/// Parses an integer.
pub(crate) fn parse_i64(file: &str, line: u64, field: &str, token: &str) -> Result<i64, ReadError> {
    token.trim().parse().map_err(|_| parse_err(file, line, field, token, "as an integer"))
}

/// Converts a decimal number to an integer count of `10^-exp10` units, exactly for plain decimals
/// (`-12.3456789`), rounding half away from zero beyond `exp10` digits; exponent forms go through `f64`.
/// `None` for anything that is not a finite number in range.
pub fn parse_decimal_scaled(token: &str, exp10: u32) -> Option<i64> {
    let t = token.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().any(|b| b == b'e' || b == b'E') {
        let v: f64 = t.parse().ok()?;
        let scaled = v * 10f64.powi(exp10 as i32);
        if !scaled.is_finite() || scaled.abs() > 9.0e18 {
            return None;
        }
        return Some(scaled.round() as i64);
    }
    let (neg, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for b in int_part.bytes() {
        v = v.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        if v > i128::from(i64::MAX) {
            return None;
        }
    }
    let fb = frac_part.as_bytes();
    for i in 0..exp10 as usize {
        let d = fb.get(i).map_or(0, |b| i128::from(b - b'0'));
        v = v.checked_mul(10)?.checked_add(d)?;
    }
    if let Some(&next) = fb.get(exp10 as usize) {
        if next >= b'5' {
            v += 1;
        }
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Lists the entries of a folder, sorted by name.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, ReadError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ReadError::Io { file: dir.display().to_string(), source })?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|source| ReadError::Io { file: dir.display().to_string(), source })?;
        out.push(e.path());
    }
    out.sort();
    Ok(out)
}

/// The file name of `p` as text (empty when it has none or it is not UTF-8).
pub(crate) fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_scaling_is_exact() {
        assert_eq!(parse_decimal_scaled("1540490250.01", 9), Some(1_540_490_250_010_000_000));
        assert_eq!(parse_decimal_scaled("-0.000000001", 9), Some(-1));
        assert_eq!(parse_decimal_scaled("12", 6), Some(12_000_000));
        assert_eq!(parse_decimal_scaled(".5", 1), Some(5));
        assert_eq!(parse_decimal_scaled("0.00000000049", 9), Some(0));
        assert_eq!(parse_decimal_scaled("0.0000000005", 9), Some(1));
        assert_eq!(parse_decimal_scaled("1e3", 0), Some(1000));
        assert_eq!(parse_decimal_scaled("1.2.3", 9), None);
        assert_eq!(parse_decimal_scaled("-", 9), None);
        assert_eq!(parse_decimal_scaled("r2", 9), None);
        assert_eq!(parse_decimal_scaled("99999999999999999999", 0), None);
    }

    #[test]
    fn lines_are_bounded_and_numbered() {
        let data = b"a\r\nbb\nccc".as_slice();
        let mut l = Lines::new(data, "x".into());
        let a = l.next_line().unwrap().unwrap();
        assert_eq!((a.no, a.text), (1, "a"));
        let b = l.next_line().unwrap().unwrap();
        assert_eq!((b.no, b.text), (2, "bb"));
        // A last line without a line end may be cut short: refused, never read as data.
        assert!(matches!(l.next_line(), Err(ReadError::Truncated { line: 3, .. })));
        let mut l = Lines::new(b"a\n \t".as_slice(), "z".into());
        assert_eq!(l.next_line().unwrap().map(|a| a.text), Some("a"));
        assert!(l.next_line().unwrap().is_none(), "trailing blanks end the input");
        let long = vec![b'x'; 100];
        let mut l = Lines::new(long.as_slice(), "y".into()).with_limit(10);
        assert!(matches!(l.next_line(), Err(ReadError::LineTooLong { line: 1, .. })));
    }
}
