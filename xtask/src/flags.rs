//! The `--flag value` pairs of the xtask commands that take options (`soak`, `bench-net`).
//! Hand-written: two commands with a handful of numeric flags each do not justify an argument
//! parser dependency in the one crate every `cargo xtask` compiles first.

use std::path::PathBuf;

use crate::{Error, Result};

/// One `--flag value` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag<'a> {
    /// The flag as given, with its dashes.
    pub(crate) name: &'a str,
    value: &'a str,
}

impl Flag<'_> {
    /// The value as a non-negative integer.
    pub(crate) fn number(&self) -> Result<u64> {
        self.value
            .parse::<u64>()
            .map_err(|_| Error::Usage(format!("{}: not a number: {}", self.name, self.value)))
    }

    /// The value as a path.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(self.value)
    }

    /// The usage error for a flag `command` does not know.
    pub(crate) fn unknown(&self, command: &str) -> Error {
        Error::Usage(format!("unknown {command} option {}", self.name))
    }
}

/// `args` as `--flag value` pairs; a flag without its value is a usage error.
pub(crate) fn pairs(args: &[String]) -> Result<Vec<Flag<'_>>> {
    args.chunks(2)
        .map(|pair| match pair {
            [name, value] => Ok(Flag { name, value }),
            [name] => Err(Error::Usage(format!("{name} needs a value"))),
            _ => unreachable!("chunks of two"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn pairs_and_values() {
        let args = args(&["--nodes", "7", "--dir", "/tmp/x"]);
        let flags = pairs(&args).unwrap();
        assert_eq!(flags.len(), 2);
        assert_eq!((flags[0].name, flags[0].number().unwrap()), ("--nodes", 7));
        assert_eq!(flags[1].path(), PathBuf::from("/tmp/x"));
        assert!(flags[1].number().is_err());
        assert!(pairs(&args[..3]).is_err());
        assert!(pairs(&[]).unwrap().is_empty());
    }
}
