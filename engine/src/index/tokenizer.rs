//! Tokenizers for text in any language the province writes, Vietnamese first.
//!
//! Vietnamese arrives both precomposed (NFC: `đăng`) and decomposed (NFD: `đa` + U+0306 +
//! `ng`). Both tokenizers normalise to NFC first, so the two spellings find each other, then
//! lowercase with Unicode rules (`ĐĂNG` → `đăng`). Diacritics are kept: `đăng` and `dang` are
//! different words in Vietnamese.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Name under which [`TextTokenizer`] is registered.
pub const TEXT: &str = "canh_text";
/// Name under which [`KeywordTokenizer`] is registered.
pub const KEYWORD: &str = "canh_keyword";
/// Longest word indexed from free text (longer runs are base64 blobs, not words).
pub const MAX_WORD_BYTES: usize = 255;
/// Longest keyword value indexed whole (tantivy refuses terms over 65,530 bytes).
pub const MAX_KEYWORD_BYTES: usize = 4096;

/// Splits on anything that is not a letter, digit or combining mark; NFC; lowercase.
#[derive(Clone, Default)]
pub struct TextTokenizer {
    norm: String,
    tokens: Vec<Token>,
}

/// The whole value as one token; NFC; lowercase.
#[derive(Clone, Default)]
pub struct KeywordTokenizer {
    tokens: Vec<Token>,
}

/// Yields tokens prepared up front.
pub struct VecTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        self.norm.clear();
        let src: &str = if text.is_ascii() {
            text
        } else {
            self.norm.extend(text.nfc());
            &self.norm
        };
        let mut position = 0;
        let mut start: Option<usize> = None;
        let mut push = |from: usize, to: usize, tokens: &mut Vec<Token>| {
            let word = &src[from..to];
            if word.len() <= MAX_WORD_BYTES {
                tokens.push(Token {
                    offset_from: from,
                    offset_to: to,
                    position,
                    text: word.to_lowercase(),
                    position_length: 1,
                });
                position += 1;
            }
        };
        for (i, c) in src.char_indices() {
            match (is_word_char(c), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    push(s, i, &mut self.tokens);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            push(s, src.len(), &mut self.tokens);
        }
        VecTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

impl Tokenizer for KeywordTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        let mut t: String = if text.is_ascii() {
            text.to_ascii_lowercase()
        } else {
            text.nfc().collect::<String>().to_lowercase()
        };
        if t.len() > MAX_KEYWORD_BYTES {
            let mut cut = MAX_KEYWORD_BYTES;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
        }
        if !t.is_empty() {
            self.tokens.push(Token {
                offset_from: 0,
                offset_to: text.len(),
                position: 0,
                text: t,
                position_length: 1,
            });
        }
        VecTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &mut impl Tokenizer, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut ts = t.token_stream(s);
        while ts.advance() {
            out.push(ts.token().text.clone());
        }
        out
    }

    #[test]
    fn vietnamese_is_lowercased_with_diacritics_kept() {
        let mut t = TextTokenizer::default();
        assert_eq!(
            words(&mut t, "ĐĂNG NHẬP thất bại từ 10.0.0.1"),
            vec!["đăng", "nhập", "thất", "bại", "từ", "10", "0", "0", "1"]
        );
    }

    #[test]
    fn nfd_and_nfc_give_the_same_tokens() {
        let mut t = TextTokenizer::default();
        let nfd: String = "Đăng nhập".nfd().collect();
        assert_ne!(nfd, "Đăng nhập");
        assert_eq!(words(&mut t, &nfd), words(&mut t, "Đăng nhập"));
    }

    #[test]
    fn keyword_is_one_lowercased_token() {
        let mut k = KeywordTokenizer::default();
        assert_eq!(
            words(&mut k, "Web-01.Tinh.GOV.vn"),
            vec!["web-01.tinh.gov.vn"]
        );
        assert_eq!(words(&mut k, "NGƯỜI DÙNG"), vec!["người dùng"]);
        assert!(words(&mut k, "").is_empty());
        assert_eq!(words(&mut k, &"é".repeat(5000))[0].len(), MAX_KEYWORD_BYTES);
    }

    #[test]
    fn overlong_words_are_skipped() {
        let mut t = TextTokenizer::default();
        let long = "a".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(words(&mut t, &format!("x {long} y")), vec!["x", "y"]);
    }
}
