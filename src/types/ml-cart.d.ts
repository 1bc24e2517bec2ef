/** The part of ml-cart 2.1 that autoprune uses (ml-cart ships no type declarations). */
declare module 'ml-cart' {
  /** A node of ml-cart's JSON tree: a leaf has `distribution` (the mean label, for regression). */
  export interface MlCartNode {
    splitValue?: number;
    splitColumn?: number;
    gain?: number;
    numberSamples?: number;
    distribution?: number | number[][];
    left?: MlCartNode;
    right?: MlCartNode;
  }

  export interface MlCartRegressionOptions {
    gainFunction?: 'regression';
    splitFunction?: 'mean';
    /** A node with this many rows or fewer becomes a leaf. Default 3. */
    minNumSamples?: number;
    /** Deepest split level (root = 0). Default Infinity. */
    maxDepth?: number;
    /** Set by ml-cart itself. */
    kind?: 'regression';
  }

  export interface MlCartRegressionJSON {
    name: 'DTRegression';
    options: MlCartRegressionOptions;
    root: MlCartNode;
  }

  export class DecisionTreeRegression {
    constructor(options?: MlCartRegressionOptions);
    root: MlCartNode;
    options: MlCartRegressionOptions;
    /** Rows × features (or a single feature column as a flat array), and one value per row. */
    train(trainingSet: number[][] | number[], trainingValues: number[]): void;
    /** One prediction per row (row-wise traversal). */
    predict(toPredict: number[][] | number[]): number[];
    toJSON(): MlCartRegressionJSON;
    static load(model: MlCartRegressionJSON): DecisionTreeRegression;
  }
}
