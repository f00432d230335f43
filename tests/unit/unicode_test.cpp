// SPDX-License-Identifier: Apache-2.0
#define BOOST_TEST_MODULE unicode
#include <boost/test/unit_test.hpp>
#include <polyglot/text/unicode.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pt = polyglot::text;
using namespace std::string_literals;

BOOST_AUTO_TEST_CASE(code_points) {
    BOOST_TEST(pt::count_code_points("") == 0u);
    BOOST_TEST(pt::count_code_points("hello, world") == 12u);
    BOOST_TEST(pt::count_code_points("Größe") == 5u);             // ö, ß: 2 bytes each
    BOOST_TEST(pt::count_code_points("مرحبا بالعالم") == 13u);    // 5 + space + 7
    BOOST_TEST(pt::count_code_points("私は学生です。") == 7u);    // 3 bytes each
    BOOST_TEST(pt::count_code_points("\xF0\x9F\x98\x80") == 1u);  // U+1F600, 4 bytes
    // Family emoji: 4 emoji + 3 ZWJ.
    BOOST_TEST(pt::count_code_points("👨‍👩‍👧‍👦") == 7u);
    // Long string crosses the 8-byte word loop and the tail.
    std::string long_text;
    for (int i = 0; i < 37; ++i) long_text += "aé私😀";  // 1 + 2 + 3 + 4 bytes, 4 code points
    BOOST_TEST(pt::count_code_points(long_text) == 37u * 4u);
    // Invalid UTF-8: stray continuation bytes are not counted, lead bytes count once.
    BOOST_TEST(pt::count_code_points("a\x80\x80z") == 2u);
    BOOST_TEST(pt::count_code_points("\xC3") == 1u);
    BOOST_TEST(pt::count_code_points("\xFF\xFE") == 2u);
}

BOOST_AUTO_TEST_CASE(words) {
    BOOST_TEST(pt::count_words("") == 0u);
    BOOST_TEST(pt::count_words("   \n\t ") == 0u);
    BOOST_TEST(pt::count_words("Hello, world!") == 2u);
    BOOST_TEST(pt::count_words("It's 3.14 and 1,000,000 -- e.g. foo_bar a@b.com") == 7u);
    BOOST_TEST(pt::count_words("_ . , ; : ! ?") == 0u);
    BOOST_TEST(pt::count_words("Größe: 3,5 Meter – schön!") == 4u);
    BOOST_TEST(pt::count_words("مرحبا بالعالم") == 2u);
    BOOST_TEST(pt::count_words("Apa kabar? Saya baik.") == 4u);
    // Japanese is segmented by ICU's dictionary: 私 | は | 学生 | です | 。
    BOOST_TEST(pt::count_words("私は学生です。") == 4u);
    BOOST_TEST(pt::count_words("我爱北京") == 3u);                        // 我 | 爱 | 北京
    BOOST_TEST(pt::count_words("👨‍👩‍👧‍👦 😀") == 0u);  // emoji are not words
    BOOST_TEST(pt::count_words("cafe\u0301 cafe") == 2u);  // combining acute stays in the word
    BOOST_TEST(pt::count_words("a\xFF"
                               "b c") == 3u);  // U+FFFD splits "a" and "b"
}

BOOST_AUTO_TEST_CASE(words_ascii_fast_path_matches_icu) {
    // The ASCII path is a hand-written restatement of ICU's rules: fuzz it against ICU by
    // appending " é" (a separate one-word segment) which forces the ICU path.
    const std::string alphabet = "aZ@_09 .',;:-\"\r\n\t#$";
    std::mt19937 rng(12345);
    std::uniform_int_distribution<std::size_t> len_dist(0, 14);
    std::uniform_int_distribution<std::size_t> char_dist(0, alphabet.size() - 1);
    for (int iter = 0; iter < 20000; ++iter) {
        std::string s(len_dist(rng), ' ');
        for (char& c : s) c = alphabet[char_dist(rng)];
        const std::size_t fast = pt::count_words(s);
        const std::size_t icu = pt::count_words(s + " \u00E9") - 1;
        BOOST_TEST_REQUIRE(fast == icu, "ASCII word count differs from ICU for [" << s << "]");
        const std::size_t g_fast = pt::count_graphemes(s);
        const std::size_t g_icu = pt::count_graphemes(s + "\u00E9") - 1;
        BOOST_TEST_REQUIRE(g_fast == g_icu, "ASCII grapheme count differs for [" << s << "]");
    }
}

BOOST_AUTO_TEST_CASE(graphemes) {
    BOOST_TEST(pt::count_graphemes("") == 0u);
    BOOST_TEST(pt::count_graphemes("abc") == 3u);
    BOOST_TEST(pt::count_graphemes("a\r\nb") == 3u);                     // CR LF is one cluster
    BOOST_TEST(pt::count_graphemes("👨‍👩‍👧‍👦") == 1u);  // ZWJ sequence
    BOOST_TEST(pt::count_graphemes("🇩🇪🇯🇵") == 2u);                       // two flags
    BOOST_TEST(pt::count_graphemes("e\u0301\u0323x") == 2u);             // e + 2 marks, x
    BOOST_TEST(pt::count_graphemes("مرحبا") == 5u);
    BOOST_TEST(pt::count_graphemes("한국어") == 3u);              // precomposed Hangul
    BOOST_TEST(pt::count_graphemes("\u1112\u1161\u11AB") == 1u);  // conjoining jamo: 한
    BOOST_TEST(pt::count_graphemes("\xFF\xFE") == 2u);            // two U+FFFD
}

BOOST_AUTO_TEST_CASE(utf8_validation) {
    BOOST_TEST(pt::is_valid_utf8(""));
    BOOST_TEST(pt::is_valid_utf8("plain ascii"));
    BOOST_TEST(pt::is_valid_utf8("مرحبا 私 😀 Größe"));
    BOOST_TEST(!pt::is_valid_utf8("\xFF"));
    BOOST_TEST(!pt::is_valid_utf8("abc\xC3"));           // truncated
    BOOST_TEST(!pt::is_valid_utf8("\xC0\xAF"));          // overlong '/'
    BOOST_TEST(!pt::is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
    BOOST_TEST(!pt::is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
    BOOST_TEST(!pt::is_valid_utf8("a\x80"));             // stray continuation
}

BOOST_AUTO_TEST_CASE(normalization) {
    BOOST_TEST(pt::nfc("") == "");
    BOOST_TEST(pt::nfc("ascii stays") == "ascii stays");
    BOOST_TEST(pt::nfc("Ame\u0301lie") == "Am\u00E9lie");
    BOOST_TEST(pt::nfc("Am\u00E9lie") == "Am\u00E9lie");    // already NFC
    BOOST_TEST(pt::nfc("\u1112\u1161\u11AB") == "\uD55C");  // jamo -> 한
    BOOST_TEST(pt::nfc("\u212B") == "\u00C5");              // Angstrom sign -> Å (singleton)
    // Canonical reordering of marks: dot below (ccc 220) before acute (ccc 230).
    BOOST_TEST(pt::nfc("e\u0301\u0323") == "\u1EB9\u0301");
    BOOST_TEST(pt::nfc("مرحبا") == "مرحبا");
    // Ill-formed sequences pass through and do not throw.
    BOOST_CHECK_NO_THROW(
        (void)pt::nfc("a\xFF"
                      "e\u0301"));
}

BOOST_AUTO_TEST_CASE(newline_folding) {
    BOOST_TEST(pt::fold_newlines("") == "");
    BOOST_TEST(pt::fold_newlines("a\r\nb\nc\rd") == "a  b c d");
    BOOST_TEST(pt::fold_newlines("no newline") == "no newline");
}

BOOST_AUTO_TEST_CASE(large_text_then_small) {
    std::string big;
    for (int i = 0; i < 200000; ++i) big += "مرحبا ";  // 2.2 MB, 1.2M UTF-16 units
    BOOST_TEST(pt::count_words(big) == 200000u);
    BOOST_TEST(pt::count_graphemes(big) == 1200000u);
    BOOST_TEST(pt::count_words("مرحبا بالعالم") == 2u);  // after the per-thread buffer shrinks
}

BOOST_AUTO_TEST_CASE(thread_safety) {
    const std::vector<std::string> texts = {"私は学生です。東京に住んでいます。", "مرحبا بالعالم",
                                            "Größe: 3,5 Meter",
                                            "👨‍👩‍👧‍👦 e\u0301"};
    std::vector<std::size_t> expected;
    for (const auto& t : texts)
        expected.push_back(pt::count_words(t) * 1000 + pt::count_graphemes(t));
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                const std::size_t k = static_cast<std::size_t>(i + t) % texts.size();
                const std::size_t got =
                    pt::count_words(texts[k]) * 1000 + pt::count_graphemes(texts[k]);
                if (got != expected[k]) ++failures[static_cast<std::size_t>(t)];
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) BOOST_TEST(f == 0);
}
