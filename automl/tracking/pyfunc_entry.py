"""Entry file of the logged pyfunc model (MLflow "models from code": no pickled Python object).

MLflow runs this file when the model is loaded; the automl package itself
travels in the model's ``code`` folder.
"""

import mlflow

from automl.tracking.pyfunc import AutoMLPythonModel

mlflow.models.set_model(AutoMLPythonModel())
