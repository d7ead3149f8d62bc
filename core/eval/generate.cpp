#include "core/eval/generate.h"

#include <chrono>

#include "core/util/error.h"

namespace scalebits::eval {

namespace {
// run.c prints a piece unless it is a single byte that is neither printable nor white space.
bool printable(const std::string& piece) {
    if (piece.size() != 1) return !piece.empty();
    const unsigned char c = static_cast<unsigned char>(piece[0]);
    return (c >= 0x20 && c < 0x7f) || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}
}  // namespace

GenerateResult generate(const NextLogits& decoder, std::int64_t vocab, std::int64_t max_positions,
                        const tokenizer::Tokenizer& tok, const std::string& prompt, const GenerateOptions& options,
                        const std::function<void(const std::string&)>& on_piece, const Progress& progress) {
    GenerateResult r;
    r.prompt_tokens = tok.encode(prompt, options.add_bos);
    if (r.prompt_tokens.empty()) throw InputError("the prompt is empty and the tokenizer has no BOS token");
    std::int64_t steps = options.steps;
    const std::int64_t limit = max_positions;
    if (steps <= 0 || steps > limit) steps = limit;
    const auto n_prompt = static_cast<std::int64_t>(r.prompt_tokens.size());
    Sampler sampler(options.sampling);

    std::int32_t token = r.prompt_tokens[0];
    std::int64_t pos = 0;
    auto start = std::chrono::steady_clock::time_point{};
    bool started = false;
    // Prints `next` after `token` exactly as run.c does, then makes it the current token.
    auto emit = [&](std::int32_t next) {
        const std::string piece = tok.decode_token(token, next);
        if (printable(piece)) {
            r.text += piece;
            if (on_piece) on_piece(piece);
        }
        r.tokens.push_back(next);
        token = next;
        if (!started) {
            start = std::chrono::steady_clock::now();
            started = true;
        }
    };
    // run.c's first token is always BOS, which prints nothing; without BOS the first prompt token
    // is text and is printed before the loop.
    if (token != tok.bos_id()) {
        const std::string piece = tok.decode_token(-1, token);
        if (printable(piece)) {
            r.text += piece;
            if (on_piece) on_piece(piece);
        }
    }
    while (pos < steps) {
        progress.check();
        if (pos < n_prompt - 1) {
            // Feed the rest of the prompt in one pass, as the cache makes this equivalent, and print
            // the prompt pieces as run.c does while it forces them. The steps count positions, the
            // prompt's included, so a prompt longer than them is cut there (a decoder sized to the
            // steps would refuse the rest).
            const auto rest = std::min(n_prompt - 1 - pos, steps - pos);
            (void)decoder(r.prompt_tokens.data() + pos, rest);
            for (std::int64_t i = 0; i < rest && pos < steps; ++i) {
                ++pos;
                emit(r.prompt_tokens[static_cast<std::size_t>(pos)]);
            }
            continue;
        }
        // Only ids the tokenizer has (a model's vocabulary is often padded past the tokenizer's).
        const std::int32_t next = sampler.next(decoder(&token, 1), std::min<std::int64_t>(vocab, tok.vocab_size()));
        ++pos;
        if (next == tok.bos_id()) break;
        if (options.stop_at_eos && next == tok.eos_id() && tok.eos_id() != tok.bos_id()) break;
        emit(next);
    }
    if (started) {
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (pos > 1 && r.seconds > 0) r.tokens_per_s = static_cast<double>(pos - 1) / r.seconds;
    }
    return r;
}

}  // namespace scalebits::eval
