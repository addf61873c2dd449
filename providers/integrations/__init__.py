"""Drop-ins for LLM frameworks: LangChain (``.langchain``) and LlamaIndex (``.llamaindex``).

Each lives in its own module behind its own extra (``omnivec[langchain]``, ``omnivec[llamaindex]``),
so importing this package loads neither framework.
"""
