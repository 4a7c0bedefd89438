"""The parameter and attribute descriptions both estimators share (one source)."""

SHARED_PARAMETERS = """\
    hidden_layer_sizes : tuple of int, default (100,)
        Width of each hidden layer (an int means one layer; () means none).
    activation : str, Activation, or list of them, default "relu"
        The hidden layers' activation: one for all, or a list with one per hidden
        layer. Any glassnet activation ("relu", "tanh", "sigmoid" (alias
        "logistic"), "identity", "leaky_relu", "elu", "gelu", "softplus").
    solver : "adam", "sgd" or "lbfgs", default "adam"
        scikit-learn's solvers, step for step: "adam" and "sgd" (momentum, Nesterov's
        or plain) as in scikit-learn's ``_stochastic_optimizers``, "lbfgs" as
        scipy's L-BFGS-B on the whole objective (maxiter=max_iter, maxfun=max_fun,
        gtol=tol).
    alpha : float, default 1e-4
        L2 penalty on the weight matrices W (not the biases), as scikit-learn defines
        it: scikit-learn's objective adds alpha / (2 S_b) * sum_l ||W_l||^2 to each
        batch's loss (S_b the batch's sample-weight sum, its size when unweighted),
        and glassnet minimises that objective times a constant s (see "Objective" in
        ``glassnet.sklearn``). A term of the loss: its gradient goes through the
        optimizer's moments (it is not decoupled weight decay).
    learning_rate : "constant", "invscaling", "adaptive" or float, default "constant"
        The schedule of "sgd" (scikit-learn's): "invscaling" sets
        lr = learning_rate_init / (t + 1)^power_t after each epoch (t the samples
        seen); "adaptive" divides lr by 5 each time the stopping rule fires, and
        stops only once lr <= 1e-6. A number is glassnet's older spelling of
        learning_rate_init (giving both, with different values, is an error).
    learning_rate_init : float, default 1e-3
        The initial step size of "adam" and "sgd" (and of a glassnet ``optimizer``
        given by name).
    power_t : float, default 0.5
        The exponent of "invscaling".
    batch_size : int or "auto", default "auto"
        Rows per step; "auto" is min(200, n_samples) as in scikit-learn. Larger than
        the training set means one full batch per epoch.
    max_iter : int, default 200
        Maximum number of epochs (passes over the training data); for "lbfgs" the
        maximum of L-BFGS-B iterations.
    shuffle : bool, default True
        Shuffle the rows each epoch.
    random_state : int, RandomState, numpy Generator or None, default None
        Seeds the initial weights, dropout, shuffling and the validation split.
        None draws a fresh seed from the operating system (stored in ``seed_``).
    tol : float, default 1e-4
        The stopping rules' tolerance (and L-BFGS-B's gtol).
    verbose : bool or int, default False
        Print the loss (and validation score) after each epoch.
    warm_start : bool, default False
        fit starts from the weights of the previous fit (a fresh optimizer, as in
        scikit-learn) instead of new ones.
    momentum : float, default 0.9
        "sgd"'s momentum mu >= 0.
    nesterovs_momentum : bool, default True
        "sgd": Nesterov's momentum (True) or plain momentum.
    early_stopping : bool, default False
        Hold out validation_fraction of the training data and stop when the
        validation score (accuracy, or R^2 for the regressor) has not improved by
        tol for n_iter_no_change + 1 epochs in a row; the best epoch's weights are
        restored at the end. Without it the same rule watches the training loss.
    validation_fraction : float, default 0.1
        The held-out fraction with early_stopping (stratified for classifiers).
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        "adam"'s moment decay rates and the epsilon added to sqrt(v).
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
        "lbfgs": the maximum number of loss-and-gradient evaluations.
    optimizer : str, glassnet Optimizer or None, default None
        Instead of solver: a glassnet optimizer ("adam", "sgd", "adamw", "rmsprop",
        or an object such as ``gn.SGD(lr=0.1, momentum=0.9, nesterov=True)``, copied
        at each fit) stepping on glassnet's objective (s times scikit-learn's) with
        torch.optim's update rules. Giving it with a solver other than the default
        is an error.
    epochs : int or None, default None
        Alias of max_iter for Keras and glassnet users; giving both with different
        values is an error.
    dropout : float or list of float, default 0.0
        Dropout rate after each hidden layer (inverted dropout, off at prediction;
        not with "lbfgs").
    dtype : None, "float32" or "float64", default None
        The network's dtype. None: the input's floating dtype (float32 X trains a
        float32 network, anything else float64), as scikit-learn's MLP. Predictions
        are returned as float64."""

SHARED_ATTRIBUTES = """\
    net_ : glassnet.Sequential
        The trained network (``net_.summary()``, ``gn.save(est.net_, path)``,
        ``gn.explain``...).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X was a DataFrame with string column names.
    loss_ : float
        The last epoch's loss, L2 term included (see "Objective"); for "lbfgs" the
        final objective (times s).
    loss_curve_ : list of float
        loss_ after each epoch (stochastic solvers; empty for "lbfgs").
    validation_loss_curve_ : list of float or None
        glassnet's loss (without the L2 term) on the validation set after each epoch,
        with early_stopping; None otherwise.
    validation_scores_ : list of float or None
        The validation score after each epoch, with early_stopping.
    best_validation_score_, best_loss_ : float or None
    n_iter_ : int
        Epochs run by the last fit (L-BFGS-B iterations for "lbfgs"); partial_fit
        calls add up.
    t_ : int
        Training samples seen.
    n_outputs_, n_layers_ : int
    out_activation_ : str
    coefs_, intercepts_ : list of ndarray
        scikit-learn's layout of the weights, views into net_: W^T (in, out) and b.
    seed_ : int
        The seed drawn from random_state."""
