"""The parameter and attribute descriptions both estimators share (one source)."""

SHARED_PARAMETERS = """\
    hidden_layer_sizes : tuple of int, default (100,)
        Width of each hidden layer (an int means one layer; () means none).
    activation : str, Activation, or list of them, default "relu"
        The hidden layers' activation: one for all, or a list with one per hidden
        layer. Any glassnet activation ("relu", "tanh", "sigmoid" (alias
        "logistic"), "identity", "leaky_relu", "elu", "gelu", "softplus").
    optimizer : str or glassnet Optimizer, default "adam"
        "adam", "sgd" (no momentum), "adamw", "rmsprop", or an optimizer object
        such as ``gn.SGD(lr=0.1, momentum=0.9, nesterov=True)``, copied at each fit
        (its hyperparameters, not its state; the object passed is never changed).
    learning_rate : float, default 1e-3
        The step size (scikit-learn's ``learning_rate_init``), constant. Used with an
        optimizer name; an optimizer object keeps its own lr (giving another
        learning_rate with it is an error).
    batch_size : int or "auto", default "auto"
        Rows per step; "auto" is min(200, n_samples) as in scikit-learn. Larger than
        the training set means one full batch per epoch.
    max_iter : int, default 200
        Maximum number of epochs (passes over the training data).
    epochs : int or None, default None
        Alias of max_iter for Keras and glassnet users; giving both with different
        values is an error.
    alpha : float, default 1e-4
        L2 penalty on the weight matrices W (not the biases), as scikit-learn defines
        it: scikit-learn's objective adds alpha / (2 S_b) * sum_l ||W_l||^2 to each
        batch's loss (S_b the batch's sample-weight sum, its size when unweighted),
        and glassnet minimises that objective times a constant s (see "Objective" in
        ``glassnet.sklearn``). A term of the loss: its gradient goes through the
        optimizer's moments (it is not decoupled weight decay).
    dropout : float or list of float, default 0.0
        Dropout rate after each hidden layer (inverted dropout, off at prediction).
    early_stopping : bool, default False
        Hold out validation_fraction of the training data and stop when the
        validation score (accuracy, or R^2 for the regressor) has not improved by
        tol for n_iter_no_change + 1 epochs in a row; the best epoch's weights are
        restored at the end. Without it the same rule watches the training loss.
    validation_fraction : float, default 0.1
        The held-out fraction with early_stopping (stratified for classifiers).
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
    shuffle : bool, default True
        Shuffle the rows each epoch.
    random_state : int, RandomState, numpy Generator or None, default None
        Seeds the initial weights, dropout, shuffling and the validation split.
        None draws a fresh seed from the operating system (stored in ``seed_``).
    verbose : bool or int, default False
        Print the loss (and validation score) after each epoch.
    dtype : "float32" or "float64", default "float32"
        The network's dtype; predictions are returned as float64."""

SHARED_ATTRIBUTES = """\
    net_ : glassnet.Sequential
        The trained network (``net_.summary()``, ``gn.save(est.net_, path)``,
        ``gn.explain``...).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X was a DataFrame with string column names.
    loss_ : float
        The last epoch's loss, L2 term included (see "Objective").
    loss_curve_ : list of float
        loss_ after each epoch.
    validation_loss_curve_ : list of float or None
        glassnet's loss (without the L2 term) on the validation set after each epoch,
        with early_stopping; None otherwise.
    validation_scores_ : list of float or None
        The validation score after each epoch, with early_stopping.
    best_validation_score_, best_loss_ : float or None
    n_iter_ : int
        Epochs run (over all partial_fit calls).
    t_ : int
        Training samples seen.
    n_outputs_, n_layers_ : int
    out_activation_ : str
    coefs_, intercepts_ : list of ndarray
        scikit-learn's layout of the weights, views into net_: W^T (in, out) and b.
    seed_ : int
        The seed drawn from random_state."""
