//! A story's engine state as bytes for the store: a small versioned little-endian layout (the
//! store treats it as opaque), about 12 bytes per centroid entry.

use crate::engine::StoryState;

const VERSION: u8 = 1;

/// Why stored bytes could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("story state {what}")]
pub struct DecodeError {
    what: &'static str,
}

pub fn encode(s: &StoryState) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + 12 * (s.terms.len() + s.names.len()));
    b.push(VERSION);
    put_str(&mut b, &s.id);
    put_str(&mut b, &s.thread);
    b.extend_from_slice(&s.counted.to_le_bytes());
    b.extend_from_slice(&s.members.to_le_bytes());
    for d in [s.first_day, s.last_day] {
        b.extend_from_slice(&d.unwrap_or(i32::MIN).to_le_bytes());
    }
    for v in [&s.terms, &s.names] {
        b.extend_from_slice(&(v.len() as u32).to_le_bytes());
        for &(k, w) in v {
            b.extend_from_slice(&k.to_le_bytes());
            b.extend_from_slice(&w.to_le_bytes());
        }
    }
    b.extend_from_slice(&(s.labels.len() as u32).to_le_bytes());
    for (k, l) in &s.labels {
        b.extend_from_slice(&k.to_le_bytes());
        put_str(&mut b, l);
    }
    b.extend_from_slice(&(s.outlets.len() as u32).to_le_bytes());
    for o in &s.outlets {
        put_str(&mut b, o);
    }
    b.extend_from_slice(&(s.headlines.len() as u32).to_le_bytes());
    for (h, keys) in &s.headlines {
        put_str(&mut b, h);
        b.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            b.extend_from_slice(&k.to_le_bytes());
        }
    }
    b
}

pub fn decode(bytes: &[u8]) -> Result<StoryState, DecodeError> {
    let mut r = Reader { b: bytes, at: 0 };
    if r.take(1)?[0] != VERSION {
        return Err(DecodeError { what: "has an unknown version" });
    }
    let mut s = StoryState { id: r.str()?, thread: r.str()?, counted: r.u32()?, members: r.u32()?, ..StoryState::default() };
    let day = |d: i32| (d != i32::MIN).then_some(d);
    s.first_day = day(r.u32()? as i32);
    s.last_day = day(r.u32()? as i32);
    for v in [&mut s.terms, &mut s.names] {
        let n = r.u32()?;
        for _ in 0..n {
            v.push((r.u64()?, f32::from_le_bytes(r.take(4)?.try_into().unwrap_or_default())));
        }
    }
    for _ in 0..r.u32()? {
        s.labels.push((r.u64()?, r.str()?));
    }
    for _ in 0..r.u32()? {
        s.outlets.push(r.str()?);
    }
    for _ in 0..r.u32()? {
        let h = r.str()?;
        let n = r.u32()?;
        let mut keys = Vec::new();
        for _ in 0..n {
            keys.push(r.u64()?);
        }
        s.headlines.push((h, keys));
    }
    Ok(s)
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or(DecodeError { what: "is truncated" })?;
        let out = &self.b[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()))
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| DecodeError { what: "holds invalid UTF-8" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let s = StoryState {
            id: "s1".into(),
            thread: "t1".into(),
            counted: 2,
            members: 3,
            first_day: Some(18_000),
            last_day: None,
            terms: vec![(1, 0.5), (9, 1.25)],
            names: vec![(4, 2.0)],
            labels: vec![(1, "flood".into())],
            outlets: vec!["AP".into()],
            headlines: vec![("Floods hit".into(), vec![1, 9])],
        };
        let b = encode(&s);
        assert_eq!(decode(&b).unwrap(), s);
        assert!(decode(&b[..b.len() - 3]).is_err());
        assert!(decode(&[]).is_err());
    }
}
