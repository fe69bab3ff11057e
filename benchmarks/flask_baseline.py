"""The in-process serving design, as a baseline: a joblib-loaded scikit-learn model called
in-process by a Flask app (``ModelDeployment`` in the original services: JSON record -> DataFrame
-> predict + predict_proba -> JSON). The scaler travels inside the pipeline rather than as a
second joblib file: same work.

Run by gunicorn (``benchmarks.processes.flask_server``); not part of our serving path.
"""

from __future__ import annotations

import os
from typing import Any

import joblib
import numpy as np
import pandas as pd
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue


def create_app(model_path: str) -> Flask:
    model: Any = joblib.load(model_path)
    app = Flask("joblib_flask_deployment")

    @app.post("/predict")
    def predict() -> ResponseReturnValue:
        data = request.get_json()
        # The original takes one record; a list of records is accepted too, so batch sweeps compare.
        frame = pd.DataFrame([data] if isinstance(data, dict) else data)
        try:
            prediction = model.predict(frame)
            probability = model.predict_proba(frame)
        except Exception as exc:  # the original answers any failure as 400 with the message
            return jsonify({"error": str(exc)}), 400
        return jsonify(
            {
                "prediction": prediction.tolist(),
                "probability": probability.tolist(),
                "confidence": float(np.max(probability)),
            }
        )

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify({"status": "healthy"})

    return app


def app_from_env() -> Flask:
    return create_app(os.environ["MODELSERVE_FLASK_MODEL"])
