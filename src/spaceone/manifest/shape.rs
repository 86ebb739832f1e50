//! The first pass over a plugin manifest: YAML syntax, and bounds on its shape.
//!
//! YAML aliases let a few lines stand for billions of values (`b: [*a, *a, …]` on `a: [*x,
//! *x, …]`, the "billion laughs"), and nesting has no limit in the grammar. The typed pass
//! would meet either half-way through a value and blame the value (``tags` must be a
//! mapping`), so this pass walks every value first, aliases expanded as the typed pass
//! will see them, counting values and depth against bounds no real manifest comes near.
//! Like the typed pass it is a `DeserializeSeed`, so the parser supplies the position.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

/// Deeper than this is not a plugin manifest (real ones nest 5 or 6 levels).
pub(super) const MAX_DEPTH: usize = 64;
/// More values than this, aliases expanded, is an alias bomb (real ones have hundreds).
pub(super) const MAX_VALUES: usize = 100_000;

/// A bound the walk crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exceeded {
    Depth,
    Values,
}

/// Walks `text`; on failure, the parser's error (with its position) and which bound, if
/// any, was crossed (`None`: a syntax error).
pub(super) fn check(text: &str) -> Result<(), (serde_yaml::Error, Option<Exceeded>)> {
    let values = Cell::new(0);
    let exceeded = Cell::new(None);
    let walk = Walk {
        depth: 0,
        values: &values,
        exceeded: &exceeded,
    };
    walk.deserialize(serde_yaml::Deserializer::from_str(text))
        .map_err(|e| (e, exceeded.get()))
}

#[derive(Clone, Copy)]
struct Walk<'a> {
    depth: usize,
    values: &'a Cell<usize>,
    exceeded: &'a Cell<Option<Exceeded>>,
}

impl Walk<'_> {
    /// Counts one value.
    fn value<E: de::Error>(self) -> Result<(), E> {
        self.values.set(self.values.get() + 1);
        if self.values.get() > MAX_VALUES {
            return Err(self.fail(Exceeded::Values));
        }
        Ok(())
    }

    /// Counts a sequence or mapping and returns the walk for its items.
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        self.value()?;
        if self.depth >= MAX_DEPTH {
            return Err(self.fail(Exceeded::Depth));
        }
        Ok(Walk {
            depth: self.depth + 1,
            ..self
        })
    }

    fn fail<E: de::Error>(self, bound: Exceeded) -> E {
        self.exceeded.set(Some(bound));
        E::custom("manifest shape bound exceeded")
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.value()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.value()
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.value()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.value()
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.value()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.value()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.value()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.value()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.value()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.enter()?;
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }

    /// A tagged value (`!Ref x`): the tag is a name, the value is walked like any other.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (_, variant) = data.variant::<de::IgnoredAny>()?;
        variant.newtype_variant_seed(self.enter()?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spaceone::PluginManifest;

    fn error(text: &str) -> String {
        PluginManifest::parse(text, Path::new("plugin.yml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn an_alias_bomb_is_named_with_its_position() {
        let mut text = String::from("name: x\ntags:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text += &format!("  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n");
        }
        let e = error(&text);
        assert!(e.starts_with("plugin manifest plugin.yml:"), "{e}");
        assert!(e.contains("too many aliases"), "{e}");
    }

    #[test]
    fn deep_nesting_is_named_with_its_line() {
        let text = format!("name: x\ntags: {}1{}\n", "[".repeat(200), "]".repeat(200));
        let e = error(&text);
        assert!(e.starts_with("plugin manifest plugin.yml:2:"), "{e}");
        assert!(e.contains("nested deeper than 64 levels"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_not_a_second_document() {
        let m = PluginManifest::parse("\u{feff}name: x\ntags: {a: b}\n", Path::new("p.yml"));
        assert_eq!(m.unwrap().name.as_deref(), Some("x"));
    }
}
