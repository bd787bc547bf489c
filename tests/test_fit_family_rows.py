"""scripts/fit_efficiency.py's family filter, shared by the whole-set fit and refit_protocol.py's fit records."""


def test_family_row_takes_the_familys_cards_in_bf16_and_fp16(load_script):
    fe = load_script("fit_efficiency")
    row = {"gpu": "gb200", "metric": "tokens_per_s_per_gpu", "precision": "bf16"}
    # GB200 is fitted with the B200 (one die, compute capability 10.0), not with the B300/GB300 (10.3)
    assert fe.family_row(row, "b200") and not fe.family_row(row, "b300")
    assert fe.family_row({**row, "precision": "fp16"}, "b200")  # FP16 read as BF16
    assert fe.family_row({**row, "precision": ""}, "b200")  # unstated precision read as BF16
    assert not fe.family_row({**row, "precision": "fp8"}, "b200")
    assert not fe.family_row({**row, "metric": "activation_gib_per_gpu"}, "b200")  # memory rows are not fitted
    # a card outside the families is its own family
    assert fe.family_row({**row, "gpu": "mi300x"}, "mi300x") and not fe.family_row(row, "mi300x")
