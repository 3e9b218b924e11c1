"""Integrations with other libraries, one module each, imported only when used.

- :mod:`coresets.integrations.hf_datasets` - Hugging Face ``datasets``: embeddings from a
  ``datasets.Dataset`` column, the selected subset as a ``Dataset``, random node splits
  and RandGreeDi over a dataset's embedding column (the ``datasets`` extra).
- :mod:`coresets.integrations.lightning` - PyTorch Lightning.
- :mod:`coresets.integrations.hf_trainer` - the Hugging Face ``transformers`` Trainer.

This package imports none of them, so ``import coresets.integrations`` never imports
``datasets``, ``lightning`` or ``transformers``; import the module you need.
"""
