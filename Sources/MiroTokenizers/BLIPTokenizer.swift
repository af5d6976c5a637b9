/// Port of BLIP's `init_tokenizer` (image-reward 1.5, ImageReward/models/BLIP/blip.py) over transformers 4.40.2's
/// slow `BertTokenizer`: an uncased WordPiece `vocab.txt` plus two added special tokens, `[DEC]` (`bos_token`) and
/// `[ENC]` (`additional_special_tokens`), as ImageReward tokenises its prompts.
///
/// `PreTrainedTokenizer.tokenize` cuts the special tokens (`[UNK] [SEP] [PAD] [CLS] [MASK] [DEC] [ENC]`, matched
/// case-sensitively in the raw text) out before the basic tokenizer runs, so `[DEC]` written in a caption becomes
/// its id and `[dec]` becomes `[`, `dec`, `]`. The tokens carry no strip flags, so the text beside them is
/// tokenised unchanged. Ids of tokens missing from `vocab.txt` follow the vocabulary in the order transformers
/// adds them (`[MASK]` if absent, then `[DEC]`, then `[ENC]`): 30522 and 30523 for bert-base-uncased.

public struct BLIPTokenizer: Sendable {
    public let wordPiece: BERTWordPieceTokenizer
    /// `tokenizer.bos_token_id`: `[DEC]`.
    public let decID: Int32
    /// `tokenizer.enc_token_id`: `[ENC]` (ImageReward's scoring path keeps `[CLS]` and never uses it).
    public let encID: Int32
    /// Vocabulary lines plus the added tokens (`len(tokenizer)`): the `vocab_size` a BLIP text encoder needs.
    public let count: Int
    let specialTokens: [AddedToken]

    /// The `max_length` ImageReward pads and truncates every prompt to.
    public static let imageRewardLength = 35

    /// Reads `vocab.txt` (bert-base-uncased's for the real model).
    public init(vocabTXT path: String) throws {
        try self.init(wordPiece: BERTWordPieceTokenizer(vocabTXT: path))
    }

    public init(wordPiece: BERTWordPieceTokenizer) {
        self.wordPiece = wordPiece
        var next = Int32(clamping: wordPiece.vocabularySize)
        var tokens: [AddedToken] = []
        // `BertTokenizer.__init__` registers its special tokens, then `init_tokenizer` adds [DEC] and [ENC].
        for content in ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]", "[DEC]", "[ENC]"] {
            let id: Int32
            if let known = wordPiece.tokenID(content) {
                id = known
            } else {
                id = next
                next += 1
            }
            tokens.append(AddedToken(content: content, id: id))
        }
        specialTokens = tokens
        decID = tokens[5].id
        encID = tokens[6].id
        count = Int(next)
    }

    /// The ids of `text` without `[CLS]`/`[SEP]`: special tokens cut out, the rest WordPiece-tokenised.
    public func encodeContent(_ text: String) -> [Int32] {
        slowTokenizerSplit(text, tokens: specialTokens).flatMap { segment -> [Int32] in
            switch segment {
            case .token(let id): [id]
            case .text(let piece, _): wordPiece.encodeContent(piece)
            }
        }
    }

    /// `[CLS]` + content + `[SEP]`, untruncated (`tokenizer(text)["input_ids"]`).
    public func encode(_ text: String) -> [Int32] { [wordPiece.clsID] + encodeContent(text) + [wordPiece.sepID] }

    /// `tokenizer(text, padding="max_length", truncation=True, max_length=length)`.
    public func encode(_ text: String, length: Int) throws -> BERTWordPieceTokenizer.Encoding {
        try wordPiece.encoding(content: encodeContent(text), length: length)
    }

    /// Every text at `length` tokens, one row per text.
    public func encode(batch texts: [String], length: Int = BLIPTokenizer.imageRewardLength) throws -> [BERTWordPieceTokenizer.Encoding] {
        try texts.map { try encode($0, length: length) }
    }
}
