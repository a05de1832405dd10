"""twoway.spec: the published tables as records, the spec's files as data."""

import pytest

import twoway


def test_published_numbers_are_the_posters():
    main = twoway.spec.published(table="main")
    ways = twoway.spec.published(table="ways")
    assert len(main) == 160 and len(ways) == 12
    # The poster's Softmax / ResNet50 on MS-COCO (../shared/paper/facts.md): 58.00 / 83.60.
    softmax = {r["metric"]: r["value"] for r in main if (r["dataset"], r["backbone"], r["loss"]) == ("coco", "resnet50", "softmax")}
    assert softmax == {"map_class": 58.0, "map_sample": 83.6}
    assert list(main[0]) == ["table", "dataset", "backbone", "loss", "way", "metric", "value"]
    with pytest.raises(ValueError, match="no field datset"):
        twoway.spec.published(datset="coco")


def test_published_as_a_data_frame_needs_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            twoway.spec.published(as_frame=True)
        return
    df = twoway.spec.published(as_frame=True)
    assert df.shape == (172, 7)


def test_spec_files_as_data():
    assert "losses.yaml" in twoway.spec.FILES
    assert "twoway" in twoway.spec.losses()
    assert twoway.spec.file("conformance") == twoway.spec.file("conformance.yaml")
    assert "embedded" in twoway.spec.grids()
    assert "twoway.yaml" in twoway.spec.vectors()
    assert isinstance(twoway.spec.recipes(), dict)
    with pytest.raises(ValueError, match="no spec file"):
        twoway.spec.file("nope")
