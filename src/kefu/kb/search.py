"""Hybrid search over published articles: BM25 on words plus dense sentence embeddings,
fused by reciprocal rank.

Words: Chinese is segmented with jieba (search mode, so 到账 and 没到账 both match) and
English is lower-cased, stripped of stop words and Snowball-stemmed; both languages share one
tokenizer, so a query mixing them ("USDT 提币") works. BM25 itself is a few lines of Okapi
BM25 (k1 1.5, b 0.75) over a corpus of a few hundred translations: small enough that a
library's sparse matrices buy nothing, and this way jieba's tokens go in unchanged.

Meaning: `kefu.core.text_encoder` (all-MiniLM-L6-v2) embeds each translation once, when it is
published; a query embeds only itself. The model is strong in English and weak in Chinese,
so its vote counts less when the query is Chinese.

Fusion: reciprocal-rank fusion (score = Σ weight / (60 + rank)), which needs no score
calibration between the two retrievers.

Freshness: every process keeps its index in memory, keyed by the generation in
`kb_index_state`; publishing changes the generation, and each query reads it (one primary-key
lookup), so every worker serves the new content from its next query on.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
import numpy as np
import snowballstemmer
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core import i18n, text_encoder
from kefu.kb.models import Article, ArticleTranslation, KbIndexState
from kefu.kb.render import to_text

K1 = 1.5
B = 0.75
RRF_K = 60
# The dense vote: how much it counts, and how similar a text must be to count at all.
DENSE_WEIGHT = {"en": 1.0, "zh-CN": 0.3}
DENSE_MIN_SIMILARITY = {"en": 0.3, "zh-CN": 0.5}
DENSE_TOP = 10
SNIPPET_CHARS = 160

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")

EN_STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "out",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "get",
        "got",
    ]
)
ZH_STOP_WORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "我",
        "你",
        "您",
        "他",
        "她",
        "在",
        "吗",
        "呢",
        "啊",
        "吧",
        "呀",
        "和",
        "与",
        "及",
        "或",
        "也",
        "都",
        "就",
        "还",
        "又",
        "把",
        "被",
        "给",
        "让",
        "个",
        "一个",
        "这",
        "那",
        "这个",
        "那个",
        "怎么",
        "怎么办",
        "怎样",
        "什么",
        "为什么",
        "如何",
        "请问",
        "请",
        "有",
        "没",
        "没有",
        "不",
        "能",
        "可以",
        "会",
        "要",
        "想",
        "一下",
        "时候",
        "已经",
        "我的",
        "我们",
    ]
)
# Exchange words jieba's general dictionary does not keep whole.
DOMAIN_WORDS = (
    "充值",
    "提币",
    "提现",
    "到账",
    "未到账",
    "手续费",
    "确认数",
    "二次验证",
    "谷歌验证器",
    "身份验证",
    "实名认证",
    "助记词",
    "私钥",
    "钓鱼",
    "假客服",
    "换卡",
    "强平",
    "强制平仓",
    "爆仓",
    "保证金",
    "维持保证金",
    "逐仓",
    "全仓",
    "标记价格",
    "合约",
    "隔离见证",
    "闪电网络",
    "地址标签",
    "转错",
    "冻结",
    "重置密码",
    "登录密码",
)

log = logging.getLogger("kefu.kb")
_jieba_lock = threading.Lock()
_jieba_ready = False


def _init_jieba() -> None:
    """Loads jieba's dictionary once per process, quietly (it logs to stderr by default)."""
    global _jieba_ready
    if _jieba_ready:
        return
    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            for word in DOMAIN_WORDS:
                jieba.add_word(word, freq=20000)
            _jieba_ready = True


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def tokenize(text: str) -> list[str]:
    """Search terms of a text in Chinese, English or both."""
    _init_jieba()
    text = unicodedata.normalize("NFKC", text).lower()
    stemmer = _stemmer()
    tokens: list[str] = []
    for piece in jieba.cut_for_search(text):
        piece = piece.strip()
        if not piece:
            continue
        if _CJK.search(piece):
            if piece not in ZH_STOP_WORDS:
                tokens.append(piece)
            continue
        for word in _WORD.findall(piece):
            if word not in EN_STOP_WORDS:
                tokens.append(stemmer.stemWord(word))
    return tokens


def looks_chinese(text: str) -> bool:
    return _CJK.search(text) is not None


@dataclass(frozen=True)
class SearchHit:
    article_id: str
    slug: str
    language: str
    title: str
    snippet: str
    score: float
    url: str


def article_url(slug: str, language: str) -> str:
    """Where a customer reads the article: the public page (relative to the desk's address)."""
    return f"/kb/{language}/{slug}"


@dataclass
class _Doc:
    article_id: str
    slug: str
    language: str
    title: str
    text: str
    terms: Counter[str]
    length: int


@dataclass
class _Index:
    docs: list[_Doc] = field(default_factory=list)
    document_frequency: Counter[str] = field(default_factory=Counter)
    average_length: float = 1.0
    vectors: NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, text_encoder.DIMENSION), dtype=np.float32)
    )
    languages_by_article: dict[str, set[str]] = field(default_factory=dict)

    def bm25(self, query: list[str]) -> NDArray[np.float64]:
        scores = np.zeros(len(self.docs), dtype=np.float64)
        total = len(self.docs)
        for term in set(query):
            df = self.document_frequency.get(term, 0)
            if df == 0:
                continue
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            weight = query.count(term)
            for i, doc in enumerate(self.docs):
                tf = doc.terms.get(term, 0)
                if tf:
                    norm = K1 * (1 - B + B * doc.length / self.average_length)
                    scores[i] += weight * idf * tf * (K1 + 1) / (tf + norm)
        return scores


def _build(session: Session) -> _Index:
    rows = session.execute(
        select(ArticleTranslation, Article.slug)
        .join(Article, Article.id == ArticleTranslation.article_id)
        .where(ArticleTranslation.published_version.is_not(None), Article.archived_at.is_(None))
        .order_by(Article.slug, ArticleTranslation.language)
    ).all()
    index = _Index()
    vectors: list[NDArray[np.float32]] = []
    for translation, slug in rows:
        title = translation.published_title or ""
        text = to_text(translation.published_body or "")
        # The title counts twice: it says what the article is about in the fewest words.
        terms = Counter(tokenize(title) * 2 + tokenize(text))
        doc = _Doc(
            article_id=translation.article_id,
            slug=slug,
            language=translation.language,
            title=title,
            text=text,
            terms=terms,
            length=max(1, sum(terms.values())),
        )
        index.docs.append(doc)
        index.document_frequency.update(terms.keys())
        index.languages_by_article.setdefault(doc.article_id, set()).add(doc.language)
        if translation.embedding:
            vectors.append(np.frombuffer(translation.embedding, dtype=np.float32))
        else:
            vectors.append(np.zeros(text_encoder.DIMENSION, dtype=np.float32))
    if index.docs:
        index.average_length = sum(d.length for d in index.docs) / len(index.docs)
        index.vectors = np.vstack(vectors)
    return index


_cache: OrderedDict[str, _Index] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 4  # one per database a process talks to, with room to spare


def _current_index(session: Session) -> _Index:
    generation = session.scalar(select(KbIndexState.generation).where(KbIndexState.id == 1))
    key = generation or "none"
    with _cache_lock:
        index = _cache.get(key)
        if index is not None:
            _cache.move_to_end(key)
            return index
    index = _build(session)
    with _cache_lock:
        _cache[key] = index
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return index


def _document_text(title: str, markdown: str) -> str:
    # The encoder reads about 256 word pieces; the title and opening say what matters.
    return f"{title}. {to_text(markdown)}"[:2000]


def embed_document(title: str, markdown: str) -> bytes:
    """The stored embedding of a published translation (float32 bytes)."""
    return _embed_texts([_document_text(title, markdown)])[0]


def prime_embeddings(documents: list[tuple[str, str]]) -> None:
    """Embeds many (title, Markdown) documents in one batch ahead of publishing them: the
    encoder is far cheaper per text in a batch than one text at a time."""
    _embed_texts([_document_text(title, body) for title, body in documents])


_embeddings: OrderedDict[str, bytes] = OrderedDict()
_EMBEDDINGS_KEPT = 1024


def _embed_texts(texts: list[str]) -> list[bytes]:
    """Embeddings of texts, from a process-local cache where the same text was seen."""
    with _cache_lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _embeddings))
    if missing:
        vectors = text_encoder.encode(missing)
        with _cache_lock:
            for text, vector in zip(missing, vectors, strict=True):
                _embeddings[text] = vector.astype(np.float32).tobytes()
            while len(_embeddings) > _EMBEDDINGS_KEPT:
                _embeddings.popitem(last=False)
    with _cache_lock:
        found = {t: _embeddings.get(t) for t in texts}
    result = []
    for text in texts:
        value = found[text]
        if value is None:  # evicted meanwhile by another thread: compute it again
            value = text_encoder.encode([text])[0].astype(np.float32).tobytes()
        result.append(value)
    return result


def _snippet(text: str, tokens: list[str]) -> str:
    lowered = text.lower()
    start = 0
    for token in tokens:
        found = lowered.find(token)
        if found >= 0:
            start = max(0, found - SNIPPET_CHARS // 3)
            break
    piece = text[start : start + SNIPPET_CHARS].strip()
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + SNIPPET_CHARS < len(text) else ""
    return f"{prefix}{piece}{suffix}"


def search(session: Session, query: str, language: str, limit: int = 5) -> list[SearchHit]:
    """Published articles that answer `query`, best first, at most one hit per article.

    Each article is searched in `language`; an article with no translation in that language
    is searched (and returned) in the languages it has, so a question is never left without
    the answer that exists.
    """
    wanted = i18n.normalize_language(language) or i18n.default_language()
    query = query.strip()
    if not query or limit < 1:
        return []
    index = _current_index(session)
    if not index.docs:
        return []
    candidates = np.array(
        [
            doc.language == wanted or wanted not in index.languages_by_article[doc.article_id]
            for doc in index.docs
        ]
    )
    tokens = tokenize(query)
    fused = np.zeros(len(index.docs), dtype=np.float64)

    lexical = np.where(candidates, index.bm25(tokens), 0.0)
    order = [i for i in np.argsort(-lexical, kind="stable") if lexical[i] > 0]
    for rank, i in enumerate(order):
        fused[i] += 1.0 / (RRF_K + rank + 1)

    query_language = "zh-CN" if _CJK.search(query) else "en"
    query_vector = np.frombuffer(_embed_texts([query[:1000]])[0], dtype=np.float32)
    similarity = index.vectors @ query_vector
    floor = DENSE_MIN_SIMILARITY[query_language]
    dense = [
        i
        for i in np.argsort(-similarity, kind="stable")[:DENSE_TOP]
        if candidates[i] and similarity[i] >= floor
    ]
    weight = DENSE_WEIGHT[query_language]
    for rank, i in enumerate(dense):
        fused[i] += weight / (RRF_K + rank + 1)

    hits: list[SearchHit] = []
    seen: set[str] = set()
    for i in np.argsort(-fused, kind="stable"):
        if fused[i] <= 0 or len(hits) >= limit:
            break
        doc = index.docs[i]
        if doc.article_id in seen:
            continue
        seen.add(doc.article_id)
        hits.append(
            SearchHit(
                article_id=doc.article_id,
                slug=doc.slug,
                language=doc.language,
                title=doc.title,
                snippet=_snippet(doc.text, [t for t in tokens if t in doc.text.lower()]),
                score=round(float(fused[i]), 6),
                url=article_url(doc.slug, doc.language),
            )
        )
    return hits


def new_generation() -> str:
    from kefu.core.ids import new_id

    return new_id()
