"""BibTeX of MS-Mix, of the backbones' papers and of the benchmark corpora, and their display names."""

MSMIX_CITATION = """@misc{zhu2025msmix,
  title         = {MS-Mix: Unveiling the Power of Mixup for Multimodal Sentiment Analysis},
  author        = {Zhu, Hongyu and Chen, Lin and Jin, Xin and Shang, Mingsheng},
  year          = {2025},
  eprint        = {2510.11579},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CV}
}"""

BACKBONE_TITLES: dict[str, str] = {
    "tfn": "TFN",
    "lmf": "LMF",
    "mult": "MulT",
    "misa": "MISA",
    "almt": "ALMT",
    "glomo": "GLoMo",
    "lnln": "LNLN",
    "dashfusion": "DashFusion",
}

BACKBONE_CITATIONS: dict[str, str] = {
    "tfn": """@inproceedings{zadeh2017tensor,
  title     = {Tensor Fusion Network for Multimodal Sentiment Analysis},
  author    = {Zadeh, Amir and Chen, Minghai and Poria, Soujanya and Cambria, Erik and Morency, Louis-Philippe},
  booktitle = {Proceedings of the 2017 Conference on Empirical Methods in Natural Language Processing},
  pages     = {1103--1114},
  year      = {2017}
}""",
    "lmf": """@inproceedings{liu2018efficient,
  title     = {Efficient Low-rank Multimodal Fusion With Modality-Specific Factors},
  author    = {Liu, Zhun and Shen, Ying and Lakshminarasimhan, Varun Bharadhwaj and Liang, Paul Pu and
               Zadeh, Amir and Morency, Louis-Philippe},
  booktitle = {Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics},
  year      = {2018}
}""",
    "mult": """@inproceedings{tsai2019multimodal,
  title     = {Multimodal Transformer for Unaligned Multimodal Language Sequences},
  author    = {Tsai, Yao-Hung Hubert and Bai, Shaojie and Liang, Paul Pu and Kolter, J. Zico and
               Morency, Louis-Philippe and Salakhutdinov, Ruslan},
  booktitle = {Proceedings of the 57th Annual Meeting of the Association for Computational Linguistics},
  year      = {2019}
}""",
    "misa": """@inproceedings{hazarika2020misa,
  title     = {MISA: Modality-Invariant and -Specific Representations for Multimodal Sentiment Analysis},
  author    = {Hazarika, Devamanyu and Zimmermann, Roger and Poria, Soujanya},
  booktitle = {Proceedings of the 28th ACM International Conference on Multimedia},
  year      = {2020}
}""",
    "almt": """@inproceedings{zhang2023learning,
  title     = {Learning Language-guided Adaptive Hyper-modality Representation for Multimodal Sentiment Analysis},
  author    = {Zhang, Haoyu and Wang, Yu and Yin, Guanghao and Liu, Kejun and Liu, Yuanyuan and Yu, Tianshu},
  booktitle = {Proceedings of the 2023 Conference on Empirical Methods in Natural Language Processing},
  year      = {2023}
}""",
    "glomo": """@inproceedings{glomo2024,
  title     = {GLoMo: Global-Local Modal Fusion for Multimodal Sentiment Analysis},
  booktitle = {Proceedings of the 32nd ACM International Conference on Multimedia},
  year      = {2024},
  doi       = {10.1145/3664647.3681527}
}""",
    "lnln": """@inproceedings{zhang2024towards,
  title     = {Towards Robust Multimodal Sentiment Analysis with Incomplete Data},
  author    = {Zhang, Haoyu and Wang, Wenbin and Yu, Tianshu},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {37},
  year      = {2024}
}""",
    "dashfusion": """@article{wen2025dashfusion,
  title   = {DashFusion: Dual-Stream Alignment With Hierarchical Bottleneck Fusion for Multimodal Sentiment Analysis},
  author  = {Wen, Yuhua and Li, Qifei and Zhou, Yingying and Gao, Yingming and Wen, Zhengqi and Tao, Jianhua and
             Li, Ya},
  journal = {IEEE Transactions on Neural Networks and Learning Systems},
  volume  = {36},
  number  = {10},
  pages   = {17941--17952},
  year    = {2025},
  doi     = {10.1109/TNNLS.2025.3578618}
}""",
}

DATASET_TITLES: dict[str, str] = {"mosi": "CMU-MOSI", "mosei": "CMU-MOSEI", "sims": "CH-SIMS"}

DATASET_CITATIONS: dict[str, str] = {
    "mosi": """@article{zadeh2016mosi,
  title   = {Multimodal Sentiment Intensity Analysis in Videos: Facial Gestures and Verbal Messages},
  author  = {Zadeh, Amir and Zellers, Rowan and Pincus, Eli and Morency, Louis-Philippe},
  journal = {IEEE Intelligent Systems},
  volume  = {31},
  number  = {6},
  pages   = {82--88},
  year    = {2016}
}""",
    "mosei": """@inproceedings{zadeh2018mosei,
  title     = {Multimodal Language Analysis in the Wild: {CMU-MOSEI} Dataset and Interpretable Dynamic Fusion Graph},
  author    = {Bagher Zadeh, AmirAli and Liang, Paul Pu and Poria, Soujanya and Cambria, Erik and
               Morency, Louis-Philippe},
  booktitle = {Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics},
  pages     = {2236--2246},
  year      = {2018}
}""",
    "sims": """@inproceedings{yu2020chsims,
  title     = {{CH-SIMS}: A {C}hinese Multimodal Sentiment Analysis Dataset with Fine-grained Annotation of Modality},
  author    = {Yu, Wenmeng and Xu, Hua and Meng, Fanyang and Zhu, Yilin and Ma, Yixiao and Wu, Jiele and
               Zou, Jiyun and Yang, Kaicheng},
  booktitle = {Proceedings of the 58th Annual Meeting of the Association for Computational Linguistics},
  pages     = {3718--3727},
  year      = {2020}
}""",
}
