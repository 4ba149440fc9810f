"""Retrieval over your documents: parse, chunk, embed, index, search, and the prompts that use them."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "DocumentError": "documents",
        "ParsedDocument": "documents",
        "parse_document": "documents",
        "max_document_bytes": "documents",
        "SUPPORTED": "documents",
        "ChunkingError": "chunking",
        "TextChunk": "chunking",
        "chunk_text": "chunking",
        "TOKEN_ENCODING": "chunking",
        "MIN_CHUNK_TOKENS": "chunking",
        "EmbedRun": "embedding",
        "EmbeddingError": "embedding",
        "embed_texts": "embedding",
        "embedding_model": "embedding",
        "Passage": "prompting",
        "RagPrompt": "prompting",
        "rag_prompt": "prompting",
        "citations": "prompting",
        "FileOutcome": "library",
        "Library": "library",
        "Found": "library",
        "Collection": "library",
        "DEFAULT_CHUNK_TOKENS": "library",
        "DEFAULT_OVERLAP_TOKENS": "library",
        "default_embedder": "library",
    },
)
