//! Plugin values to PostgreSQL parameters and PostgreSQL columns to plugin
//! values. A parameter is sent in the binary form of the type the server
//! inferred when the value fits it, else as text for the server to parse
//! (so a text value binds to a `date`, `uuid` or `numeric` parameter); a
//! column comes back as the plugin value of its type, with dates, times,
//! numerics and UUIDs as their usual text.

use std::error::Error;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::bindings::mcp::plugin::sql::SqlValue;

type BoxError = Box<dyn Error + Sync + Send>;

/// A plugin value bound to a parameter.
#[derive(Debug)]
pub(crate) struct Param(pub SqlValue);

/// Whether `value` is sent in `ty`'s binary form (else as text).
fn binary(value: &SqlValue, ty: &Type) -> bool {
    match value {
        SqlValue::Null => true,
        SqlValue::Integer(_) => [
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::FLOAT4,
            Type::FLOAT8,
        ]
        .contains(ty),
        SqlValue::Real(_) => [Type::FLOAT4, Type::FLOAT8].contains(ty),
        SqlValue::Boolean(_) => *ty == Type::BOOL,
        SqlValue::Blob(_) => true,
        SqlValue::Text(_) | SqlValue::Json(_) => false,
    }
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if !binary(&self.0, ty) {
            match &self.0 {
                SqlValue::Integer(n) => write!(TextOut(out), "{n}")?,
                SqlValue::Real(x) => write!(TextOut(out), "{x}")?,
                SqlValue::Boolean(b) => write!(TextOut(out), "{b}")?,
                SqlValue::Text(s) | SqlValue::Json(s) => out.put_slice(s.as_bytes()),
                SqlValue::Null | SqlValue::Blob(_) => unreachable!("always binary"),
            }
            return Ok(IsNull::No);
        }
        match &self.0 {
            SqlValue::Null => Ok(IsNull::Yes),
            SqlValue::Integer(n) => match *ty {
                Type::INT2 => i16::try_from(*n)
                    .map_err(|_| out_of_range(*n, ty))?
                    .to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)
                    .map_err(|_| out_of_range(*n, ty))?
                    .to_sql(ty, out),
                Type::FLOAT4 => (*n as f32).to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            SqlValue::Real(x) => match *ty {
                Type::FLOAT4 => (*x as f32).to_sql(ty, out),
                _ => x.to_sql(ty, out),
            },
            SqlValue::Boolean(b) => b.to_sql(ty, out),
            SqlValue::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            SqlValue::Blob(_) => Err(format!("a blob cannot bind to a `{ty}` parameter").into()),
            SqlValue::Text(_) | SqlValue::Json(_) => unreachable!("always text"),
        }
    }

    fn encode_format(&self, ty: &Type) -> Format {
        if binary(&self.0, ty) {
            Format::Binary
        } else {
            Format::Text
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn out_of_range(n: i64, ty: &Type) -> BoxError {
    format!("{n} is out of range for a `{ty}` parameter").into()
}

/// Writes text into the parameter buffer.
struct TextOut<'a>(&'a mut BytesMut);

impl std::fmt::Write for TextOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// A column's value, as the plugin receives it.
#[derive(Debug)]
pub(crate) struct Cell(pub SqlValue);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::BOOL => SqlValue::Boolean(bool::from_sql(ty, raw)?),
            Type::INT2 => SqlValue::Integer(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => SqlValue::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => SqlValue::Integer(i64::from_sql(ty, raw)?),
            Type::OID => SqlValue::Integer(u32::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => SqlValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => SqlValue::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => SqlValue::Blob(raw.to_vec()),
            Type::JSON => SqlValue::Json(text(raw)?),
            Type::JSONB => match raw.split_first() {
                Some((1, json)) => SqlValue::Json(text(json)?),
                _ => return Err("jsonb in an unknown format".into()),
            },
            Type::UUID => SqlValue::Text(uuid(raw)?),
            Type::NUMERIC => SqlValue::Text(numeric(raw)?),
            Type::DATE => SqlValue::Text(date(i32::from_sql(&Type::INT4, raw)?)),
            Type::TIMESTAMP => SqlValue::Text(timestamp(i64::from_sql(&Type::INT8, raw)?, "")),
            Type::TIMESTAMPTZ => SqlValue::Text(timestamp(i64::from_sql(&Type::INT8, raw)?, "Z")),
            _ if is_text(ty) => SqlValue::Text(text(raw)?),
            _ => return Err(format!("a `{ty}` column has no plugin value").into()),
        };
        Ok(Cell(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Cell(SqlValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Types whose binary form is their text.
fn is_text(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
        Type::CHAR,
    ]
    .contains(ty)
        || matches!(ty.kind(), Kind::Enum(_))
        || ty.name() == "citext"
}

fn text(raw: &[u8]) -> Result<String, BoxError> {
    Ok(std::str::from_utf8(raw)?.to_string())
}

fn uuid(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("a uuid is 16 bytes".into());
    }
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// A `numeric` in its binary form (base-10000 digits) as decimal text.
fn numeric(raw: &[u8]) -> Result<String, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a numeric is cut short".into())
    };
    let count = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let scale = usize::from(word(3)?);
    let digits = (0..count)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<_>, _>>()?;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digit = |k: i32| -> u16 {
        usize::try_from(k)
            .ok()
            .and_then(|k| digits.get(k).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for k in 0..=weight {
            if k == 0 {
                let _ = write!(out, "{}", digit(k));
            } else {
                let _ = write!(out, "{:04}", digit(k));
            }
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut k = weight + 1;
        while fraction.len() < scale {
            let _ = write!(fraction, "{:04}", digit(k));
            k += 1;
        }
        fraction.truncate(scale);
        out.push('.');
        out.push_str(&fraction);
    }
    Ok(out)
}

/// The civil date `days` after 2000-01-01.
fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => {
            let (y, m, d) = crate::calendar::civil_from_days(i64::from(days) + 10_957);
            format!("{y:04}-{m:02}-{d:02}")
        }
    }
}

/// The timestamp `micros` after 2000-01-01 00:00, as ISO 8601.
fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    let day = micros.div_euclid(86_400_000_000);
    let within = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = crate::calendar::civil_from_days(day + 10_957);
    let (secs, frac) = (within / 1_000_000, within % 1_000_000);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let _ = write!(out, ".{frac:06}");
    }
    out.push_str(zone);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [digits.len() as u16, weight as u16, sign, scale]
            .into_iter()
            .chain(digits.iter().copied())
        {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_read_as_decimal_text() {
        // 12345.678 = 1|2345|6780 with weight 1, scale 3.
        assert_eq!(
            numeric(&numeric_bytes(1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        // -0.0005 = 0005 at weight -1, scale 4.
        assert_eq!(
            numeric(&numeric_bytes(-1, 0x4000, 4, &[5])).unwrap(),
            "-0.0005"
        );
        // 0.00000001: weight -2.
        assert_eq!(
            numeric(&numeric_bytes(-2, 0, 8, &[1])).unwrap(),
            "0.00000001"
        );
        // 20000 = 2|0000, stored as one digit with weight 1.
        assert_eq!(numeric(&numeric_bytes(1, 0, 0, &[2])).unwrap(), "20000");
        assert_eq!(numeric(&numeric_bytes(0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric(&numeric_bytes(0, 0xC000, 0, &[])).unwrap(), "NaN");
        assert!(numeric(&[0, 3]).is_err());
    }

    #[test]
    fn dates_and_times_read_as_iso_8601() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(366 + 31 + 27), "2001-02-28");
        assert_eq!(date(366 + 31 + 28), "2001-03-01");
        assert_eq!(timestamp(0, ""), "2000-01-01T00:00:00");
        assert_eq!(
            timestamp(86_400_000_000 + 3_723_000_001, "Z"),
            "2000-01-02T01:02:03.000001Z"
        );
        assert_eq!(timestamp(-1, ""), "1999-12-31T23:59:59.999999");
    }

    #[test]
    fn uuids_read_hyphenated() {
        let raw: Vec<u8> = (0..16).collect();
        assert_eq!(uuid(&raw).unwrap(), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }

    #[test]
    fn values_bind_in_the_form_their_parameter_takes() {
        let mut out = BytesMut::new();
        Param(SqlValue::Integer(7))
            .to_sql(&Type::INT4, &mut out)
            .unwrap();
        assert_eq!(&out[..], &7i32.to_be_bytes());
        assert!(matches!(
            Param(SqlValue::Integer(7)).encode_format(&Type::NUMERIC),
            Format::Text
        ));
        let mut out = BytesMut::new();
        Param(SqlValue::Integer(7))
            .to_sql(&Type::NUMERIC, &mut out)
            .unwrap();
        assert_eq!(&out[..], b"7");
        let Err(err) = Param(SqlValue::Integer(1 << 40)).to_sql(&Type::INT4, &mut BytesMut::new())
        else {
            panic!("2^40 fits no int4")
        };
        assert!(err.to_string().contains("out of range"), "{err}");
        assert!(matches!(
            Param(SqlValue::Text("2024-01-01".into())).encode_format(&Type::DATE),
            Format::Text
        ));
    }
}
